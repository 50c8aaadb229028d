"""The shipped coefficient sets, pre-parsed (generated: python -m moeplan.compile_laws).

Do not edit: the YAML files in coefficients/ are the source; an entry is used only
while its SHA-256 matches the file.
"""

LAWS = {'besiroglu2024-chinchilla.yaml': ('387987d53d91bc2f9a30ce22aeb404890783565570a38243ca52677df70eba2f',
                                   {'citation': 'Besiroglu et al. 2024, "Chinchilla Scaling: A '
                                                'replication attempt", arXiv:2404.10102',
                                    'coefficients': {'a': 482.01,
                                                     'alpha': 0.3478,
                                                     'b': 2085.43,
                                                     'beta': 0.3658,
                                                     'c': 1.8172},
                                    'comparable_with': [],
                                    'description': "Epoch AI's replication of Chinchilla approach "
                                                   '3; not comparable with the Krajewski sets',
                                    'fitted_range': {'params': [70000000.0, 16000000000.0],
                                                     'tokens': [5000000000.0, 500000000000.0]},
                                    'fitted_range_source': 'Besiroglu et al. 2024, Table 1 '
                                                           "(Hoffmann's runs): Hoffmann et al.'s "
                                                           'runs, 70M to 16B parameters '
                                                           '(embeddings included), 5B to 500B '
                                                           'tokens',
                                    'flops': {'aspect_ratio': 64, 'c_f': 6, 'c_r': 0},
                                    'form': 'chinchilla',
                                    'loss_definition': 'Final training loss (nats per token) on '
                                                       'MassiveText with a 32K SentencePiece '
                                                       'tokenizer (dense Transformers): not '
                                                       'comparable with the Krajewski or joint '
                                                       'sets.',
                                    'name': 'besiroglu2024-chinchilla',
                                    'precision': {'a': 0.005,
                                                  'alpha': 5e-05,
                                                  'b': 0.005,
                                                  'beta': 5e-05,
                                                  'c': 5e-05},
                                    'variables': {'params': 'total_with_embedding',
                                                  'tokens': 'training_tokens',
                                                  'vocab_size': 32000}}),
 'hoffmann2022-chinchilla.yaml': ('ba961f21e46866ee1cddc1cf385ae802772a7fa2c8ea9b546e0408a31629daec',
                                  {'citation': 'Hoffmann et al. 2022, "Training Compute-Optimal '
                                               'Large Language Models", arXiv:2203.15556, '
                                               'approach 3 (equation 10)',
                                   'coefficients': {'a': 406.4,
                                                    'alpha': 0.34,
                                                    'b': 410.7,
                                                    'beta': 0.28,
                                                    'c': 1.69},
                                   'comparable_with': [],
                                   'description': 'Chinchilla approach 3 (MassiveText); not '
                                                  'comparable with the Krajewski sets',
                                   'fitted_range': {'params': [70000000.0, 16000000000.0],
                                                    'tokens': [5000000000.0, 500000000000.0]},
                                   'fitted_range_source': 'Hoffmann et al. 2022, Section 3.3 / '
                                                          'approach 3 (equation 10): Hoffmann et '
                                                          "al.'s runs, 70M to 16B parameters "
                                                          '(embeddings included), 5B to 500B '
                                                          'tokens',
                                   'flops': {'aspect_ratio': 64, 'c_f': 6, 'c_r': 0},
                                   'form': 'chinchilla',
                                   'loss_definition': 'Final training loss (nats per token) on '
                                                      'MassiveText with a 32K SentencePiece '
                                                      'tokenizer (dense Transformers): not '
                                                      'comparable with the Krajewski or joint '
                                                      'sets.',
                                   'name': 'hoffmann2022-chinchilla',
                                   'notes': 'These rounded published coefficients put the '
                                            "compute-optimal model at 5.76e23 FLOPs (Chinchilla's "
                                            'budget) at about 32B parameters and 3T tokens, not '
                                            "Chinchilla's own 70B / 1.4T: the fit does not "
                                            "reproduce the paper's other two approaches "
                                            '(Besiroglu et al. 2024; use besiroglu2024-chinchilla '
                                            'for their refit).',
                                   'precision': {'a': 0.05,
                                                 'alpha': 0.005,
                                                 'b': 0.05,
                                                 'beta': 0.005,
                                                 'c': 0.005},
                                   'variables': {'params': 'total_with_embedding',
                                                 'tokens': 'training_tokens',
                                                 'vocab_size': 32000}}),
 'krajewski2024-dense.yaml': ('3627db4eaace65224125590df83b7d807c081fbde64cbabe75881b65f6384397',
                              {'citation': 'Krajewski, Ludziejewski et al. 2024, "Scaling Laws '
                                           'for Fine-Grained Mixture of Experts", '
                                           'arXiv:2402.07871, Table 1 (dense row)',
                               'coefficients': {'a': 16.3,
                                                'alpha': 0.126,
                                                'b': 26.7,
                                                'beta': 0.127,
                                                'c': 0.47},
                               'comparable_with': ['krajewski2024-moe',
                                                   'krajewski2024-moe-robust'],
                               'description': 'Dense Transformer law fitted on the same data and '
                                              'tokenizer as krajewski2024-moe',
                               'fitted_range': {'params': [3000000.0, 85000000.0],
                                                'tokens': [16000000000.0, 66000000000.0]},
                               'fitted_range_source': 'Krajewski et al. 2024, Table 4 (dense '
                                                      'runs): about 3M to 85M non-embedding '
                                                      'parameters, 16B to 66B tokens',
                               'flops': {'aspect_ratio': 64, 'c_f': 6, 'c_r': 0},
                               'form': 'chinchilla',
                               'loss_definition': 'Smoothed final training loss (nats per token) '
                                                  'on C4 with the GPT-2 tokenizer (dense '
                                                  'Transformers, the same data as '
                                                  'krajewski2024-moe).',
                               'name': 'krajewski2024-dense',
                               'precision': {'a': 0.05,
                                             'alpha': 0.0005,
                                             'b': 0.05,
                                             'beta': 0.0005,
                                             'c': 0.005},
                               'variables': {'params': 'non_embedding',
                                             'tokens': 'training_tokens'}}),
 'krajewski2024-moe-e16.yaml': ('9358fb9725c7a6c83699771d32be50fbd633c89d59ab4c6932d4276d8fd6e337',
                                {'citation': 'Krajewski, Ludziejewski et al. 2024, "Scaling Laws '
                                             'for Fine-Grained Mixture of Experts", '
                                             'arXiv:2402.07871, Appendix D (expansion rate 16)',
                                 'coefficients': {'a': 19.64,
                                                  'alpha': 0.124,
                                                  'b': 57.07,
                                                  'beta': 0.169,
                                                  'c': 0.472,
                                                  'g': 1.18,
                                                  'gamma': 0.986},
                                 'comparable_with': [],
                                 'description': 'Fine-grained MoE law fitted at expansion rate '
                                                '16; use with E = 16',
                                 'fitted_range': {'expansion_rate': [16, 16],
                                                  'granularity': [1, 16],
                                                  'params': [35000000.0, 541000000.0],
                                                  'tokens': [8000000000.0, 66000000000.0]},
                                 'fitted_range_source': 'Krajewski et al. 2024, Table 7 (E = 16 '
                                                        'runs): about 35M to 541M total '
                                                        'parameters, 8B to 66B tokens, G from 1 '
                                                        'to 16',
                                 'flops': {'aspect_ratio': 64,
                                           'c_f': 6,
                                           'c_r': 14,
                                           'expansion_rate': 16},
                                 'form': 'fine_grained_moe',
                                 'loss_definition': 'Smoothed final training loss (nats per '
                                                    'token) on C4 with the GPT-2 tokenizer; MoE '
                                                    'layers route by Expert Choice (each expert '
                                                    'picks its tokens). Top-k token choice with k '
                                                    "= G is the practitioner's reading of G, not "
                                                    'what the runs used.',
                                 'name': 'krajewski2024-moe-e16',
                                 'precision': {'a': 0.005,
                                               'alpha': 0.0005,
                                               'b': 0.005,
                                               'beta': 0.0005,
                                               'c': 0.0005,
                                               'g': 0.005,
                                               'gamma': 0.0005},
                                 'variables': {'params': 'total_non_embedding',
                                               'tokens': 'training_tokens'}}),
 'krajewski2024-moe-robust.yaml': ('99f6bb1cd5233788c6c3105652b088c240076feaaeee011bc4fcea29c3117221',
                                   {'citation': 'Krajewski, Ludziejewski et al. 2024, "Scaling '
                                                'Laws for Fine-Grained Mixture of Experts", '
                                                'arXiv:2402.07871, Appendix B (robustness refit)',
                                    'coefficients': {'a': 17.6,
                                                     'alpha': 0.114,
                                                     'b': 26.7,
                                                     'beta': 0.14,
                                                     'c': 0.472,
                                                     'g': 2.07,
                                                     'gamma': 0.57},
                                    'comparable_with': ['krajewski2024-moe',
                                                        'krajewski2024-dense'],
                                    'description': 'Robustness refit of the E=64 law without the '
                                                   '20% runs of lowest loss',
                                    'fitted_range': {'expansion_rate': [64, 64],
                                                     'granularity': [1, 16],
                                                     'params': [129000000.0, 3700000000.0],
                                                     'tokens': [16000000000.0, 130000000000.0]},
                                    'fitted_range_source': 'Krajewski et al. 2024, Appendix B: '
                                                           'the E = 64 runs of Table 1 without '
                                                           'the 20% of lowest loss (a subset of '
                                                           '129M to 3.7B total parameters, 16B to '
                                                           '130B tokens)',
                                    'flops': {'aspect_ratio': 64,
                                              'c_f': 6,
                                              'c_r': 14,
                                              'expansion_rate': 64},
                                    'form': 'fine_grained_moe',
                                    'loss_definition': 'Smoothed final training loss (nats per '
                                                       'token) on C4 with the GPT-2 tokenizer; '
                                                       'MoE layers route by Expert Choice (each '
                                                       'expert picks its tokens). Top-k token '
                                                       "choice with k = G is the practitioner's "
                                                       'reading of G, not what the runs used.',
                                    'name': 'krajewski2024-moe-robust',
                                    'precision': {'a': 0.05,
                                                  'alpha': 0.0005,
                                                  'b': 0.05,
                                                  'beta': 0.0005,
                                                  'c': 0.0005,
                                                  'g': 0.005,
                                                  'gamma': 0.0005},
                                    'variables': {'params': 'total_non_embedding',
                                                  'tokens': 'training_tokens'}}),
 'krajewski2024-moe.yaml': ('6254290f4bc39648e822194511291e740f4c5c5fe1ed14d553a267b9e43acb97',
                            {'citation': 'Krajewski, Ludziejewski et al. 2024, "Scaling Laws for '
                                         'Fine-Grained Mixture of Experts", arXiv:2402.07871, '
                                         'Table 1 (MoE row)',
                             'coefficients': {'a': 18.1,
                                              'alpha': 0.115,
                                              'b': 30.8,
                                              'beta': 0.147,
                                              'c': 0.47,
                                              'g': 2.1,
                                              'gamma': 0.58},
                             'comparable_with': ['krajewski2024-dense',
                                                 'krajewski2024-moe-robust'],
                             'description': 'Fine-grained MoE law at expansion rate 64 (the '
                                            "paper's main fit)",
                             'fitted_range': {'expansion_rate': [64, 64],
                                              'granularity': [1, 16],
                                              'params': [129000000.0, 3700000000.0],
                                              'tokens': [16000000000.0, 130000000000.0]},
                             'fitted_range_source': 'Krajewski et al. 2024, the E = 64 runs '
                                                    'behind its Table 1: 129M to 3.7B total '
                                                    'parameters, 16B to 130B tokens, G from 1 to '
                                                    '16',
                             'flops': {'aspect_ratio': 64,
                                       'c_f': 6,
                                       'c_r': 14,
                                       'expansion_rate': 64},
                             'form': 'fine_grained_moe',
                             'loss_definition': 'Smoothed final training loss (nats per token) on '
                                                'C4 with the GPT-2 tokenizer; MoE layers route by '
                                                'Expert Choice (each expert picks its tokens). '
                                                'Top-k token choice with k = G is the '
                                                "practitioner's reading of G, not what the runs "
                                                'used.',
                             'name': 'krajewski2024-moe',
                             'precision': {'a': 0.05,
                                           'alpha': 0.0005,
                                           'b': 0.05,
                                           'beta': 0.0005,
                                           'c': 0.005,
                                           'g': 0.05,
                                           'gamma': 0.005},
                             'variables': {'params': 'total_non_embedding',
                                           'tokens': 'training_tokens'}}),
 'ludziejewski2025-joint.yaml': ('69202df4cc7c06609344d21e7d86cd4e3304b183365e4dfeff2fe12faeaefea5',
                                 {'citation': 'Ludziejewski, Pióro, Krajewski et al. 2025, "Joint '
                                              'MoE Scaling Laws: Mixture of Experts Can Be Memory '
                                              'Efficient", arXiv:2502.05172',
                                  'coefficients': {'a': 35.91,
                                                   'alpha': -0.1889,
                                                   'b': 35.98,
                                                   'beta': -0.1775,
                                                   'c': 1.3637,
                                                   'delta': -0.2285,
                                                   'e_max': 290.4521,
                                                   'e_start': 2.0732,
                                                   'gamma': 0.0098,
                                                   'omega': 0.5529,
                                                   'zeta': -0.0259},
                                  'comparable_with': [],
                                  'description': 'Joint MoE law over the number of experts E '
                                                 '(top-1, SwiGLU, memory-aware planning)',
                                  'fitted_range': {'n_experts': [1, 32],
                                                   'params': [None, 2700000000.0],
                                                   'params_total': [None, 5000000000.0],
                                                   'tokens': [500000000.0, 80000000000.0],
                                                   'tokens_per_param': [None, 414]},
                                  'fitted_range_source': 'Ludziejewski et al. 2025, Section 3 and '
                                                         'Appendix C: runs up to 2.7B active (5B '
                                                         'total) parameters with embeddings, 0.5B '
                                                         'to 80B tokens, E from 1 to 32; about '
                                                         '414 tokens per parameter is beyond its '
                                                         'data',
                                  'flops': {'aspect_ratio': 64, 'c_f': 6, 'c_r': 0},
                                  'form': 'joint_moe',
                                  'loss_definition': 'Final training loss (nats per token) on '
                                                     'FineWeb-Edu with the GPT-2 tokenizer; MoE '
                                                     'layers route by Switch-style token choice, '
                                                     'top-1, with a capacity factor. Top-k > 1 is '
                                                     'outside the law.',
                                  'name': 'ludziejewski2025-joint',
                                  'precision': {'a': 0.005,
                                                'alpha': 5e-05,
                                                'b': 0.005,
                                                'beta': 5e-05,
                                                'c': 5e-05,
                                                'delta': 5e-05,
                                                'e_max': 5e-05,
                                                'e_start': 5e-05,
                                                'gamma': 5e-05,
                                                'omega': 5e-05,
                                                'zeta': 5e-05},
                                  'variables': {'params': 'active_with_embedding',
                                                'tokens': 'training_tokens',
                                                'vocab_size': 50257}})}
