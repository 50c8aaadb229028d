"""The ``__init__`` of moeplan's dataclasses, pre-compiled (generated: python -m moeplan.compile_records).

Do not edit: moeplan._record builds these from the classes' fields; an entry is used only while its key matches the fields.
"""

def _init_moeplan_accounting_FlopsBreakdown(_set, _HAS_FACTORY, _d_vocab_size, _d_n_embedding, _d_n_active_with_embedding, _d_n_total_with_embedding):
    def __init__(self, d_model, n_blocks, expansion_rate, granularity, tokens, c_f, c_r, n_experts, top_k, d_expert, n_active, n_total, router_params, attention_flops, expert_flops, router_flops, flops, flops_per_token, router_share, vocab_size=_d_vocab_size, n_embedding=_d_n_embedding, n_active_with_embedding=_d_n_active_with_embedding, n_total_with_embedding=_d_n_total_with_embedding):
        _set(self, 'd_model', d_model)
        _set(self, 'n_blocks', n_blocks)
        _set(self, 'expansion_rate', expansion_rate)
        _set(self, 'granularity', granularity)
        _set(self, 'tokens', tokens)
        _set(self, 'c_f', c_f)
        _set(self, 'c_r', c_r)
        _set(self, 'n_experts', n_experts)
        _set(self, 'top_k', top_k)
        _set(self, 'd_expert', d_expert)
        _set(self, 'n_active', n_active)
        _set(self, 'n_total', n_total)
        _set(self, 'router_params', router_params)
        _set(self, 'attention_flops', attention_flops)
        _set(self, 'expert_flops', expert_flops)
        _set(self, 'router_flops', router_flops)
        _set(self, 'flops', flops)
        _set(self, 'flops_per_token', flops_per_token)
        _set(self, 'router_share', router_share)
        _set(self, 'vocab_size', vocab_size)
        _set(self, 'n_embedding', n_embedding)
        _set(self, 'n_active_with_embedding', n_active_with_embedding)
        _set(self, 'n_total_with_embedding', n_total_with_embedding)
    return __init__

def _init_moeplan_cli_render_Report(_set, _HAS_FACTORY, _f_tables, _f_lines, _f_warnings, _d_csv_columns, _d_csv_rows, _d_exit_code):
    def __init__(self, data, tables=_HAS_FACTORY, lines=_HAS_FACTORY, warnings=_HAS_FACTORY, csv_columns=_d_csv_columns, csv_rows=_d_csv_rows, exit_code=_d_exit_code):
        _set(self, 'data', data)
        _set(self, 'tables', _f_tables() if tables is _HAS_FACTORY else tables)
        _set(self, 'lines', _f_lines() if lines is _HAS_FACTORY else lines)
        _set(self, 'warnings', _f_warnings() if warnings is _HAS_FACTORY else warnings)
        _set(self, 'csv_columns', csv_columns)
        _set(self, 'csv_rows', csv_rows)
        _set(self, 'exit_code', exit_code)
    return __init__

def _init_moeplan_cli_render_Table(_set, _HAS_FACTORY, _d_caption):
    def __init__(self, title, columns, rows, caption=_d_caption):
        _set(self, 'title', title)
        _set(self, 'columns', columns)
        _set(self, 'rows', rows)
        _set(self, 'caption', caption)
    return __init__

def _init_moeplan_laws_base_Law(_set, _HAS_FACTORY, _f_coefficients, _d_params_meaning, _d_c_f, _d_c_r, _d_expansion_rate, _d_aspect_ratio, _d_vocab_size, _f_fitted_range, _d_comparable_with, _d_citation, _d_description, _d_source, _d_bootstrap, _d_provenance, _f_precision, _d_loss_definition, _d_notes, _d_fitted_range_source):
    def __init__(self, name, form, coefficients=_HAS_FACTORY, params_meaning=_d_params_meaning, c_f=_d_c_f, c_r=_d_c_r, expansion_rate=_d_expansion_rate, aspect_ratio=_d_aspect_ratio, vocab_size=_d_vocab_size, fitted_range=_HAS_FACTORY, comparable_with=_d_comparable_with, citation=_d_citation, description=_d_description, source=_d_source, bootstrap=_d_bootstrap, provenance=_d_provenance, precision=_HAS_FACTORY, loss_definition=_d_loss_definition, notes=_d_notes, fitted_range_source=_d_fitted_range_source):
        _set(self, 'name', name)
        _set(self, 'form', form)
        _set(self, 'coefficients', _f_coefficients() if coefficients is _HAS_FACTORY else coefficients)
        _set(self, 'params_meaning', params_meaning)
        _set(self, 'c_f', c_f)
        _set(self, 'c_r', c_r)
        _set(self, 'expansion_rate', expansion_rate)
        _set(self, 'aspect_ratio', aspect_ratio)
        _set(self, 'vocab_size', vocab_size)
        _set(self, 'fitted_range', _f_fitted_range() if fitted_range is _HAS_FACTORY else fitted_range)
        _set(self, 'comparable_with', comparable_with)
        _set(self, 'citation', citation)
        _set(self, 'description', description)
        _set(self, 'source', source)
        _set(self, 'bootstrap', bootstrap)
        _set(self, 'provenance', provenance)
        _set(self, 'precision', _f_precision() if precision is _HAS_FACTORY else precision)
        _set(self, 'loss_definition', loss_definition)
        _set(self, 'notes', notes)
        _set(self, 'fitted_range_source', fitted_range_source)
        self.__post_init__()
    return __init__

def _init_moeplan_laws_joint_LearningRateAdvice(_set, _HAS_FACTORY, _d_source, _d_formula, _f_fitted_range, _d_warnings):
    def __init__(self, learning_rate, n_active, n_experts, source=_d_source, formula=_d_formula, fitted_range=_HAS_FACTORY, warnings=_d_warnings):
        _set(self, 'learning_rate', learning_rate)
        _set(self, 'n_active', n_active)
        _set(self, 'n_experts', n_experts)
        _set(self, 'source', source)
        _set(self, 'formula', formula)
        _set(self, 'fitted_range', _f_fitted_range() if fitted_range is _HAS_FACTORY else fitted_range)
        _set(self, 'warnings', warnings)
    return __init__

def _init_moeplan_plan_bands_CompareBands(_set, _HAS_FACTORY):
    def __init__(self, samples, loss_opt, loss_g1, loss_dense, g1_multiplier, dense_multiplier):
        _set(self, 'samples', samples)
        _set(self, 'loss_opt', loss_opt)
        _set(self, 'loss_g1', loss_g1)
        _set(self, 'loss_dense', loss_dense)
        _set(self, 'g1_multiplier', g1_multiplier)
        _set(self, 'dense_multiplier', dense_multiplier)
    return __init__

def _init_moeplan_plan_bands_OptimizeBands(_set, _HAS_FACTORY):
    def __init__(self, samples, source, loss, granularity, n_total, n_active, tokens):
        _set(self, 'samples', samples)
        _set(self, 'source', source)
        _set(self, 'loss', loss)
        _set(self, 'granularity', granularity)
        _set(self, 'n_total', n_total)
        _set(self, 'n_active', n_active)
        _set(self, 'tokens', tokens)
    return __init__

def _init_moeplan_plan_granular__Problem(_set, _HAS_FACTORY, _d_tp):
    def __init__(self, law, setup, gr, allowed, real_g, cons, multiple_of, tol, tp=_d_tp):
        _set(self, 'law', law)
        _set(self, 'setup', setup)
        _set(self, 'gr', gr)
        _set(self, 'allowed', allowed)
        _set(self, 'real_g', real_g)
        _set(self, 'cons', cons)
        _set(self, 'multiple_of', multiple_of)
        _set(self, 'tol', tol)
        _set(self, 'tp', tp)
    return __init__

def _init_moeplan_plan_limits_Limits(_set, _HAS_FACTORY, _d_memory, _d_bytes_per_param, _d_kv_tokens, _d_vocab_size, _d_tied_embeddings, _d_max_total_params, _d_max_tokens, _d_max_choice, _d_params, _d_inference_tokens):
    def __init__(self, memory=_d_memory, bytes_per_param=_d_bytes_per_param, kv_tokens=_d_kv_tokens, vocab_size=_d_vocab_size, tied_embeddings=_d_tied_embeddings, max_total_params=_d_max_total_params, max_tokens=_d_max_tokens, max_choice=_d_max_choice, params=_d_params, inference_tokens=_d_inference_tokens):
        _set(self, 'memory', memory)
        _set(self, 'bytes_per_param', bytes_per_param)
        _set(self, 'kv_tokens', kv_tokens)
        _set(self, 'vocab_size', vocab_size)
        _set(self, 'tied_embeddings', tied_embeddings)
        _set(self, 'max_total_params', max_total_params)
        _set(self, 'max_tokens', max_tokens)
        _set(self, 'max_choice', max_choice)
        _set(self, 'params', params)
        _set(self, 'inference_tokens', inference_tokens)
        self.__post_init__()
    return __init__

def _init_moeplan_plan_results_BootstrapRanges(_set, _HAS_FACTORY):
    def __init__(self, samples, percentiles, n_total, n_active, tokens, granularity, loss):
        _set(self, 'samples', samples)
        _set(self, 'percentiles', percentiles)
        _set(self, 'n_total', n_total)
        _set(self, 'n_active', n_active)
        _set(self, 'tokens', tokens)
        _set(self, 'granularity', granularity)
        _set(self, 'loss', loss)
    return __init__

def _init_moeplan_plan_results_Candidate(_set, _HAS_FACTORY, _d_realized, _d_unconstrained_loss, _d_reason):
    def __init__(self, choice, feasible, continuous, realized=_d_realized, unconstrained_loss=_d_unconstrained_loss, reason=_d_reason):
        _set(self, 'choice', choice)
        _set(self, 'feasible', feasible)
        _set(self, 'continuous', continuous)
        _set(self, 'realized', realized)
        _set(self, 'unconstrained_loss', unconstrained_loss)
        _set(self, 'reason', reason)
    return __init__

def _init_moeplan_plan_results_CompareResult(_set, _HAS_FACTORY, _d_success, _d_message):
    def __init__(self, law, dense_law, choice, rows, limits, settings, warnings, success=_d_success, message=_d_message):
        _set(self, 'law', law)
        _set(self, 'dense_law', dense_law)
        _set(self, 'choice', choice)
        _set(self, 'rows', rows)
        _set(self, 'limits', limits)
        _set(self, 'settings', settings)
        _set(self, 'warnings', warnings)
        _set(self, 'success', success)
        _set(self, 'message', message)
    return __init__

def _init_moeplan_plan_results_CompareRow(_set, _HAS_FACTORY, _f_extra, _d_dense_law, _d_dense_compute_multiplier_range, _d_g1_compute_multiplier_range):
    def __init__(self, budget_flops, dense, moe_g1, moe_opt, dense_compute_multiplier, g1_compute_multiplier, verdict, extra=_HAS_FACTORY, dense_law=_d_dense_law, dense_compute_multiplier_range=_d_dense_compute_multiplier_range, g1_compute_multiplier_range=_d_g1_compute_multiplier_range):
        _set(self, 'budget_flops', budget_flops)
        _set(self, 'dense', dense)
        _set(self, 'moe_g1', moe_g1)
        _set(self, 'moe_opt', moe_opt)
        _set(self, 'dense_compute_multiplier', dense_compute_multiplier)
        _set(self, 'g1_compute_multiplier', g1_compute_multiplier)
        _set(self, 'verdict', verdict)
        _set(self, 'extra', _f_extra() if extra is _HAS_FACTORY else extra)
        _set(self, 'dense_law', dense_law)
        _set(self, 'dense_compute_multiplier_range', dense_compute_multiplier_range)
        _set(self, 'g1_compute_multiplier_range', g1_compute_multiplier_range)
    return __init__

def _init_moeplan_plan_results_Configuration(_set, _HAS_FACTORY, _d_inference_flops, _d_kv_cache_bytes, _d_n_heads, _d_head_dim, _d_loss_penalty, _d_feasible, _d_binding, _d_n_embedding, _d_n_active_with_embedding, _d_n_total_with_embedding, _d_inference_tokens, _d_bytes_per_param, _d_learning_rate, _d_loss_range):
    def __init__(self, granularity, expansion_rate, n_experts, top_k, d_model, n_blocks, d_expert, n_active, n_total, router_params, tokens, flops, router_flops, router_share, loss, tokens_per_active_param, memory_bytes, aspect_ratio, realizable, inference_flops=_d_inference_flops, kv_cache_bytes=_d_kv_cache_bytes, n_heads=_d_n_heads, head_dim=_d_head_dim, loss_penalty=_d_loss_penalty, feasible=_d_feasible, binding=_d_binding, n_embedding=_d_n_embedding, n_active_with_embedding=_d_n_active_with_embedding, n_total_with_embedding=_d_n_total_with_embedding, inference_tokens=_d_inference_tokens, bytes_per_param=_d_bytes_per_param, learning_rate=_d_learning_rate, loss_range=_d_loss_range):
        _set(self, 'granularity', granularity)
        _set(self, 'expansion_rate', expansion_rate)
        _set(self, 'n_experts', n_experts)
        _set(self, 'top_k', top_k)
        _set(self, 'd_model', d_model)
        _set(self, 'n_blocks', n_blocks)
        _set(self, 'd_expert', d_expert)
        _set(self, 'n_active', n_active)
        _set(self, 'n_total', n_total)
        _set(self, 'router_params', router_params)
        _set(self, 'tokens', tokens)
        _set(self, 'flops', flops)
        _set(self, 'router_flops', router_flops)
        _set(self, 'router_share', router_share)
        _set(self, 'loss', loss)
        _set(self, 'tokens_per_active_param', tokens_per_active_param)
        _set(self, 'memory_bytes', memory_bytes)
        _set(self, 'aspect_ratio', aspect_ratio)
        _set(self, 'realizable', realizable)
        _set(self, 'inference_flops', inference_flops)
        _set(self, 'kv_cache_bytes', kv_cache_bytes)
        _set(self, 'n_heads', n_heads)
        _set(self, 'head_dim', head_dim)
        _set(self, 'loss_penalty', loss_penalty)
        _set(self, 'feasible', feasible)
        _set(self, 'binding', binding)
        _set(self, 'n_embedding', n_embedding)
        _set(self, 'n_active_with_embedding', n_active_with_embedding)
        _set(self, 'n_total_with_embedding', n_total_with_embedding)
        _set(self, 'inference_tokens', inference_tokens)
        _set(self, 'bytes_per_param', bytes_per_param)
        _set(self, 'learning_rate', learning_rate)
        _set(self, 'loss_range', loss_range)
    return __init__

def _init_moeplan_plan_results_ConstraintReport(_set, _HAS_FACTORY):
    def __init__(self, name, limit, binding, loss_cost, message):
        _set(self, 'name', name)
        _set(self, 'limit', limit)
        _set(self, 'binding', binding)
        _set(self, 'loss_cost', loss_cost)
        _set(self, 'message', message)
    return __init__

def _init_moeplan_plan_results_OptimizeResult(_set, _HAS_FACTORY, _d_bootstrap, _d_best_real_choice, _d_best_real_choice_loss, _d_learning_rate, _d_success, _d_message, _d_bands):
    def __init__(self, law, choice, budget_flops, target_loss, recommended, continuous, candidates, excluded, realizable, unconstrained_loss, unconstrained_flops, constraints, limits, settings, warnings, bootstrap=_d_bootstrap, best_real_choice=_d_best_real_choice, best_real_choice_loss=_d_best_real_choice_loss, learning_rate=_d_learning_rate, success=_d_success, message=_d_message, bands=_d_bands):
        _set(self, 'law', law)
        _set(self, 'choice', choice)
        _set(self, 'budget_flops', budget_flops)
        _set(self, 'target_loss', target_loss)
        _set(self, 'recommended', recommended)
        _set(self, 'continuous', continuous)
        _set(self, 'candidates', candidates)
        _set(self, 'excluded', excluded)
        _set(self, 'realizable', realizable)
        _set(self, 'unconstrained_loss', unconstrained_loss)
        _set(self, 'unconstrained_flops', unconstrained_flops)
        _set(self, 'constraints', constraints)
        _set(self, 'limits', limits)
        _set(self, 'settings', settings)
        _set(self, 'warnings', warnings)
        _set(self, 'bootstrap', bootstrap)
        _set(self, 'best_real_choice', best_real_choice)
        _set(self, 'best_real_choice_loss', best_real_choice_loss)
        _set(self, 'learning_rate', learning_rate)
        _set(self, 'success', success)
        _set(self, 'message', message)
        _set(self, 'bands', bands)
    return __init__

def _init_moeplan_plan_results_SweepResult(_set, _HAS_FACTORY, _d_success, _d_message):
    def __init__(self, law, dense_law, choice, choices, flops, columns, loss_by_choice, limits, settings, warnings, success=_d_success, message=_d_message):
        _set(self, 'law', law)
        _set(self, 'dense_law', dense_law)
        _set(self, 'choice', choice)
        _set(self, 'choices', choices)
        _set(self, 'flops', flops)
        _set(self, 'columns', columns)
        _set(self, 'loss_by_choice', loss_by_choice)
        _set(self, 'limits', limits)
        _set(self, 'settings', settings)
        _set(self, 'warnings', warnings)
        _set(self, 'success', success)
        _set(self, 'message', message)
    return __init__

def _init_moeplan_plan_solve_Frontier(_set, _HAS_FACTORY, _d_n_experts, _d_choice_name):
    def __init__(self, flops, granularities, granularity, d_model, n_blocks, n_active, n_total, tokens, router_flops, loss, loss_per_granularity, n_experts=_d_n_experts, choice_name=_d_choice_name):
        _set(self, 'flops', flops)
        _set(self, 'granularities', granularities)
        _set(self, 'granularity', granularity)
        _set(self, 'd_model', d_model)
        _set(self, 'n_blocks', n_blocks)
        _set(self, 'n_active', n_active)
        _set(self, 'n_total', n_total)
        _set(self, 'tokens', tokens)
        _set(self, 'router_flops', router_flops)
        _set(self, 'loss', loss)
        _set(self, 'loss_per_granularity', loss_per_granularity)
        _set(self, 'n_experts', n_experts)
        _set(self, 'choice_name', choice_name)
    return __init__

def _init_moeplan_plan_solve_Setup(_set, _HAS_FACTORY, _d_embedding):
    def __init__(self, law_name, dense, expansion_rate, aspect_ratio, c_f, c_r, a, alpha, b, beta, g, gamma, c, embedding=_d_embedding):
        _set(self, 'law_name', law_name)
        _set(self, 'dense', dense)
        _set(self, 'expansion_rate', expansion_rate)
        _set(self, 'aspect_ratio', aspect_ratio)
        _set(self, 'c_f', c_f)
        _set(self, 'c_r', c_r)
        _set(self, 'a', a)
        _set(self, 'alpha', alpha)
        _set(self, 'b', b)
        _set(self, 'beta', beta)
        _set(self, 'g', g)
        _set(self, 'gamma', gamma)
        _set(self, 'c', c)
        _set(self, 'embedding', embedding)
    return __init__

def _init_moeplan_plan_solve_Solution(_set, _HAS_FACTORY, _d_names):
    def __init__(self, granularity, log_width, free_log_width, loss, feasible, lower_code, upper_code, names=_d_names):
        _set(self, 'granularity', granularity)
        _set(self, 'log_width', log_width)
        _set(self, 'free_log_width', free_log_width)
        _set(self, 'loss', loss)
        _set(self, 'feasible', feasible)
        _set(self, 'lower_code', lower_code)
        _set(self, 'upper_code', upper_code)
        _set(self, 'names', names)
    return __init__

def _init_moeplan_shapes_Shape(_set, _HAS_FACTORY):
    def __init__(self, d_model, n_blocks, n_heads, head_dim, d_expert, n_experts, top_k):
        _set(self, 'd_model', d_model)
        _set(self, 'n_blocks', n_blocks)
        _set(self, 'n_heads', n_heads)
        _set(self, 'head_dim', head_dim)
        _set(self, 'd_expert', d_expert)
        _set(self, 'n_experts', n_experts)
        _set(self, 'top_k', top_k)
    return __init__

def _init_moeplan_shapes_ShapeCandidate(_set, _HAS_FACTORY):
    def __init__(self, shape, tokens, loss, flops):
        _set(self, 'shape', shape)
        _set(self, 'tokens', tokens)
        _set(self, 'loss', loss)
        _set(self, 'flops', flops)
    return __init__

def _init_moeplan_shapes_ShapeChoice(_set, _HAS_FACTORY, _f_candidates, _d_budget_flops, _d_law, _d_rules, _d_warnings):
    def __init__(self, best, candidates=_HAS_FACTORY, budget_flops=_d_budget_flops, law=_d_law, rules=_d_rules, warnings=_d_warnings):
        _set(self, 'best', best)
        _set(self, 'candidates', _f_candidates() if candidates is _HAS_FACTORY else candidates)
        _set(self, 'budget_flops', budget_flops)
        _set(self, 'law', law)
        _set(self, 'rules', rules)
        _set(self, 'warnings', warnings)
    return __init__

def _init_moeplan_shapes_ShapeRules(_set, _HAS_FACTORY, _d_multiple_of, _d_head_dim, _d_small_head_dim, _d_small_d_model, _d_tp, _d_ep, _d_expert_multiple_of):
    def __init__(self, multiple_of=_d_multiple_of, head_dim=_d_head_dim, small_head_dim=_d_small_head_dim, small_d_model=_d_small_d_model, tp=_d_tp, ep=_d_ep, expert_multiple_of=_d_expert_multiple_of):
        _set(self, 'multiple_of', multiple_of)
        _set(self, 'head_dim', head_dim)
        _set(self, 'small_head_dim', small_head_dim)
        _set(self, 'small_d_model', small_d_model)
        _set(self, 'tp', tp)
        _set(self, 'ep', ep)
        _set(self, 'expert_multiple_of', expert_multiple_of)
        self.__post_init__()
    return __init__

INITS = {
    'moeplan.accounting.FlopsBreakdown': (((('d_model', True, False, False), ('n_blocks', True, False, False), ('expansion_rate', True, False, False), ('granularity', True, False, False), ('tokens', True, False, False), ('c_f', True, False, False), ('c_r', True, False, False), ('n_experts', True, False, False), ('top_k', True, False, False), ('d_expert', True, False, False), ('n_active', True, False, False), ('n_total', True, False, False), ('router_params', True, False, False), ('attention_flops', True, False, False), ('expert_flops', True, False, False), ('router_flops', True, False, False), ('flops', True, False, False), ('flops_per_token', True, False, False), ('router_share', True, False, False), ('vocab_size', True, True, False), ('n_embedding', True, True, False), ('n_active_with_embedding', True, True, False), ('n_total_with_embedding', True, True, False)), False), _init_moeplan_accounting_FlopsBreakdown),
    'moeplan.cli.render.Report': (((('data', True, False, False), ('tables', True, False, True), ('lines', True, False, True), ('warnings', True, False, True), ('csv_columns', True, True, False), ('csv_rows', True, True, False), ('exit_code', True, True, False)), False), _init_moeplan_cli_render_Report),
    'moeplan.cli.render.Table': (((('title', True, False, False), ('columns', True, False, False), ('rows', True, False, False), ('caption', True, True, False)), False), _init_moeplan_cli_render_Table),
    'moeplan.laws.base.Law': (((('name', True, False, False), ('form', True, False, False), ('coefficients', True, False, True), ('params_meaning', True, True, False), ('c_f', True, True, False), ('c_r', True, True, False), ('expansion_rate', True, True, False), ('aspect_ratio', True, True, False), ('vocab_size', True, True, False), ('fitted_range', True, False, True), ('comparable_with', True, True, False), ('citation', True, True, False), ('description', True, True, False), ('source', True, True, False), ('bootstrap', True, True, False), ('provenance', True, True, False), ('precision', True, False, True), ('loss_definition', True, True, False), ('notes', True, True, False), ('fitted_range_source', True, True, False)), True), _init_moeplan_laws_base_Law),
    'moeplan.laws.joint.LearningRateAdvice': (((('learning_rate', True, False, False), ('n_active', True, False, False), ('n_experts', True, False, False), ('source', True, True, False), ('formula', True, True, False), ('fitted_range', True, False, True), ('warnings', True, True, False)), False), _init_moeplan_laws_joint_LearningRateAdvice),
    'moeplan.plan.bands.CompareBands': (((('samples', True, False, False), ('loss_opt', True, False, False), ('loss_g1', True, False, False), ('loss_dense', True, False, False), ('g1_multiplier', True, False, False), ('dense_multiplier', True, False, False)), False), _init_moeplan_plan_bands_CompareBands),
    'moeplan.plan.bands.OptimizeBands': (((('samples', True, False, False), ('source', True, False, False), ('loss', True, False, False), ('granularity', True, False, False), ('n_total', True, False, False), ('n_active', True, False, False), ('tokens', True, False, False)), False), _init_moeplan_plan_bands_OptimizeBands),
    'moeplan.plan.granular._Problem': (((('law', True, False, False), ('setup', True, False, False), ('gr', True, False, False), ('allowed', True, False, False), ('real_g', True, False, False), ('cons', True, False, False), ('multiple_of', True, False, False), ('tol', True, False, False), ('tp', True, True, False)), False), _init_moeplan_plan_granular__Problem),
    'moeplan.plan.limits.Limits': (((('memory', True, True, False), ('bytes_per_param', True, True, False), ('kv_tokens', True, True, False), ('vocab_size', True, True, False), ('tied_embeddings', True, True, False), ('max_total_params', True, True, False), ('max_tokens', True, True, False), ('max_choice', True, True, False), ('params', True, True, False), ('inference_tokens', True, True, False)), True), _init_moeplan_plan_limits_Limits),
    'moeplan.plan.results.BootstrapRanges': (((('samples', True, False, False), ('percentiles', True, False, False), ('n_total', True, False, False), ('n_active', True, False, False), ('tokens', True, False, False), ('granularity', True, False, False), ('loss', True, False, False)), False), _init_moeplan_plan_results_BootstrapRanges),
    'moeplan.plan.results.Candidate': (((('choice', True, False, False), ('feasible', True, False, False), ('continuous', True, False, False), ('realized', True, True, False), ('unconstrained_loss', True, True, False), ('reason', True, True, False)), False), _init_moeplan_plan_results_Candidate),
    'moeplan.plan.results.CompareResult': (((('law', True, False, False), ('dense_law', True, False, False), ('choice', True, False, False), ('rows', True, False, False), ('limits', True, False, False), ('settings', True, False, False), ('warnings', True, False, False), ('success', True, True, False), ('message', True, True, False)), False), _init_moeplan_plan_results_CompareResult),
    'moeplan.plan.results.CompareRow': (((('budget_flops', True, False, False), ('dense', True, False, False), ('moe_g1', True, False, False), ('moe_opt', True, False, False), ('dense_compute_multiplier', True, False, False), ('g1_compute_multiplier', True, False, False), ('verdict', True, False, False), ('extra', True, False, True), ('dense_law', True, True, False), ('dense_compute_multiplier_range', True, True, False), ('g1_compute_multiplier_range', True, True, False)), False), _init_moeplan_plan_results_CompareRow),
    'moeplan.plan.results.Configuration': (((('granularity', True, False, False), ('expansion_rate', True, False, False), ('n_experts', True, False, False), ('top_k', True, False, False), ('d_model', True, False, False), ('n_blocks', True, False, False), ('d_expert', True, False, False), ('n_active', True, False, False), ('n_total', True, False, False), ('router_params', True, False, False), ('tokens', True, False, False), ('flops', True, False, False), ('router_flops', True, False, False), ('router_share', True, False, False), ('loss', True, False, False), ('tokens_per_active_param', True, False, False), ('memory_bytes', True, False, False), ('aspect_ratio', True, False, False), ('realizable', True, False, False), ('inference_flops', True, True, False), ('kv_cache_bytes', True, True, False), ('n_heads', True, True, False), ('head_dim', True, True, False), ('loss_penalty', True, True, False), ('feasible', True, True, False), ('binding', True, True, False), ('n_embedding', True, True, False), ('n_active_with_embedding', True, True, False), ('n_total_with_embedding', True, True, False), ('inference_tokens', True, True, False), ('bytes_per_param', True, True, False), ('learning_rate', True, True, False), ('loss_range', True, True, False)), False), _init_moeplan_plan_results_Configuration),
    'moeplan.plan.results.ConstraintReport': (((('name', True, False, False), ('limit', True, False, False), ('binding', True, False, False), ('loss_cost', True, False, False), ('message', True, False, False)), False), _init_moeplan_plan_results_ConstraintReport),
    'moeplan.plan.results.OptimizeResult': (((('law', True, False, False), ('choice', True, False, False), ('budget_flops', True, False, False), ('target_loss', True, False, False), ('recommended', True, False, False), ('continuous', True, False, False), ('candidates', True, False, False), ('excluded', True, False, False), ('realizable', True, False, False), ('unconstrained_loss', True, False, False), ('unconstrained_flops', True, False, False), ('constraints', True, False, False), ('limits', True, False, False), ('settings', True, False, False), ('warnings', True, False, False), ('bootstrap', True, True, False), ('best_real_choice', True, True, False), ('best_real_choice_loss', True, True, False), ('learning_rate', True, True, False), ('success', True, True, False), ('message', True, True, False), ('bands', True, True, False)), False), _init_moeplan_plan_results_OptimizeResult),
    'moeplan.plan.results.SweepResult': (((('law', True, False, False), ('dense_law', True, False, False), ('choice', True, False, False), ('choices', True, False, False), ('flops', True, False, False), ('columns', True, False, False), ('loss_by_choice', True, False, False), ('limits', True, False, False), ('settings', True, False, False), ('warnings', True, False, False), ('success', True, True, False), ('message', True, True, False)), False), _init_moeplan_plan_results_SweepResult),
    'moeplan.plan.solve.Frontier': (((('flops', True, False, False), ('granularities', True, False, False), ('granularity', True, False, False), ('d_model', True, False, False), ('n_blocks', True, False, False), ('n_active', True, False, False), ('n_total', True, False, False), ('tokens', True, False, False), ('router_flops', True, False, False), ('loss', True, False, False), ('loss_per_granularity', True, False, False), ('n_experts', True, True, False), ('choice_name', True, True, False)), False), _init_moeplan_plan_solve_Frontier),
    'moeplan.plan.solve.Setup': (((('law_name', True, False, False), ('dense', True, False, False), ('expansion_rate', True, False, False), ('aspect_ratio', True, False, False), ('c_f', True, False, False), ('c_r', True, False, False), ('a', True, False, False), ('alpha', True, False, False), ('b', True, False, False), ('beta', True, False, False), ('g', True, False, False), ('gamma', True, False, False), ('c', True, False, False), ('embedding', True, True, False)), False), _init_moeplan_plan_solve_Setup),
    'moeplan.plan.solve.Solution': (((('granularity', True, False, False), ('log_width', True, False, False), ('free_log_width', True, False, False), ('loss', True, False, False), ('feasible', True, False, False), ('lower_code', True, False, False), ('upper_code', True, False, False), ('names', True, True, False)), False), _init_moeplan_plan_solve_Solution),
    'moeplan.shapes.Shape': (((('d_model', True, False, False), ('n_blocks', True, False, False), ('n_heads', True, False, False), ('head_dim', True, False, False), ('d_expert', True, False, False), ('n_experts', True, False, False), ('top_k', True, False, False)), False), _init_moeplan_shapes_Shape),
    'moeplan.shapes.ShapeCandidate': (((('shape', True, False, False), ('tokens', True, False, False), ('loss', True, False, False), ('flops', True, False, False)), False), _init_moeplan_shapes_ShapeCandidate),
    'moeplan.shapes.ShapeChoice': (((('best', True, False, False), ('candidates', True, False, True), ('budget_flops', True, True, False), ('law', True, True, False), ('rules', True, True, False), ('warnings', True, True, False)), False), _init_moeplan_shapes_ShapeChoice),
    'moeplan.shapes.ShapeRules': (((('multiple_of', True, True, False), ('head_dim', True, True, False), ('small_head_dim', True, True, False), ('small_d_model', True, True, False), ('tp', True, True, False), ('ep', True, True, False), ('expert_multiple_of', True, True, False)), True), _init_moeplan_shapes_ShapeRules),
}
