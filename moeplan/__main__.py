"""``python -m moeplan`` works the same as ``moeplan``."""

from moeplan.cli import main

if __name__ == "__main__":
    main()
