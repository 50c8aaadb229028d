"""Regenerate moeplan/_shipped_laws.py from the YAML files in coefficients/.

    python -m moeplan.compile_laws

Run it after editing a shipped coefficient set; tests/test_coefficients.py fails until you do.
"""

from pathlib import Path

from .coefficients import compiled_module_text

if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "_shipped_laws.py"
    target.write_text(compiled_module_text(), encoding="utf-8")
    print(f"wrote {target}")
