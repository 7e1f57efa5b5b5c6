"""Each hint of the checker appears on the wrong answer it explains, and nowhere it would mislead.

The wrong answers are the solutions with one typical mistake each. They are judged in this
process (``checking.judge_here``: the checker's encoding and judge, without the sandbox), which
takes milliseconds; ``test_exercises.py`` runs a few of them through the real checker.
"""
import numpy as np
import pytest
from checking import body, judge_here, solution

from mmoe_np import exercises
from mmoe_np.exercises import layers as layer_exercises
from mmoe_np.exercises import models as model_exercises

CORRECTION = "m_hat = m / (1 - beta1**t)\n    v_hat = v / (1 - beta2**t)"
VERDICT = 'verdict = "lower" if high < margin else "higher" if low > margin else "level"'

# (solution, text to replace, replacement, what the message must say, what its hints must not say)
WRONG = {
    # ---- hints the issue found misleading, mended ----
    "ex14 ddof=0": ("ex14_paired_ratio", "log_ratio.std(ddof=1)", "log_ratio.std(ddof=0)", "uses ddof=1", "pair the"),
    "ex14 no sqrt(R)": ("ex14_paired_ratio", " / np.sqrt(len(log_ratio))", "", "divided by sqrt(R)", "pair the"),
    "ex14 a and b swapped": ("ex14_paired_ratio", "np.log(a / b)", "np.log(b / a)", "you compared b to a", "pair the"),
    "ex14 z instead of t": ("ex14_paired_ratio", "t.ppf(0.975, len(log_ratio) - 1)", "1.96", "1.96 is the normal",
                            "pair the"),
    "ex14 unpaired": ("ex14_paired_ratio", "se = log_ratio.std(ddof=1) / np.sqrt(len(log_ratio))",
                      "se = np.sqrt(np.log(a).var(ddof=1) / len(a) + np.log(b).var(ddof=1) / len(b))",
                      "the runs are paired", "1.96"),
    "ex14 ratio of means": ("ex14_paired_ratio", "ratio, low, high = np.exp(m),", "ratio, low, high = a.mean() / "
                            "b.mean(),", "ratio of the mean losses", "sqrt(R)"),
    "adam eps inside the root": ("ex03_adam_step", "(np.sqrt(v_hat) + eps)", "np.sqrt(v_hat + eps)",
                                 "eps goes outside the square root", "constant factor"),
    "adam t from 0 (t + 1)": ("ex03_adam_step", CORRECTION, CORRECTION.replace("**t", "**(t + 1)"),
                              "t already counts from 1", "remember the bias correction"),
    "adam t - 1": ("ex03_adam_step", CORRECTION, CORRECTION.replace("**t", "**(t - 1)"), "is 0 at the first step",
                   "remember the bias correction"),
    "adam no bias correction": ("ex03_adam_step", CORRECTION, "m_hat = m\n    v_hat = v",
                                "remember the bias correction", "counts from 1"),
    "adam v of g, not g^2": ("ex03_adam_step", "grad**2", "grad", "squared* gradient", "bias correction"),
    "adam returns m_hat, v_hat": ("ex03_adam_step", "return param, m, v", "return param, m_hat, v_hat",
                                  "return the moments m and v themselves", "bias correction"),
    "mmoe tower mask": ("ex06_mmoe_backward", " * (A > 0)", "", "the towers: ReLU's mask", "the experts:"),
    "mmoe tasks do not meet": ("ex06_mmoe_backward", 'dH = np.einsum("kbu,kbe->bue", dF, c["G"])',
                               'dH = np.einsum("bu,be->bue", dF[0], c["G"][0])', "where their gradients meet",
                               "the towers:"),
    "mmoe expert mask": ("ex06_mmoe_backward", 'dZ = dH * (c["H"] > 0)', "dZ = dH", "the experts: ReLU's mask",
                         "the towers:"),
    "mmoe softmax diagonal": ("ex06_mmoe_backward", 'c["G"] * (dG - (dG * c["G"]).sum(axis=-1, keepdims=True))',
                              'c["G"] * (1 - c["G"]) * dG', "Jacobian's diagonal", "the experts:"),
    "mmoe gates get every task": ("ex06_mmoe_backward", 'dG = np.einsum("kbu,bue->kbe", dF, c["H"])',
                                  'dG = np.einsum("kbu,bue->kbe", np.broadcast_to(dF.sum(0), dF.shape), c["H"])',
                                  "only its own task's dF[k]", "the experts:"),
    "experts db over two axes": ("ex05_experts_backward", "dbias = dZ.sum(axis=0)", "dbias = dZ.sum(axis=(0, 1))",
                                 "you summed away axis 0 (size 4) as well", "keepdims"),
    "experts no mask": ("ex05_experts_backward", "dZ = dH * (H > 0)", "dZ = dH", "without ReLU's mask", "keepdims"),
    "experts outputs in the wrong order": ("ex05_experts_backward", "return dX, dW, dbias", "return dW, dX, dbias",
                                           "that is dW's shape: return dX, dW, db in this order", "transpose"),
    "bce without the mean": ("ex03_bce_with_logits", "dlogits = (sigmoid - y) / z.size", "dlogits = sigmoid - y",
                             "a factor N = 14 too large", "factor B"),
    "bce over B only": ("ex03_bce_with_logits", "dlogits = (sigmoid - y) / z.size", "dlogits = (sigmoid - y) / len(z)",
                        "divided by the batch size B only", "factor N"),
    "softmax diagonal only": ("ex05_softmax_backward", "G * (dG - (dG * G).sum(axis=-1, keepdims=True))",
                              "G * (1 - G) * dG", "only the Jacobian's diagonal", "relative error 0"),
    "softmax sum down the batch": ("ex05_softmax_backward", "sum(axis=-1, keepdims=True)", "sum(axis=0, keepdims=True)",
                                   "along one row", "diagonal"),
    "ex11 rank from s, not s^2": ("ex11_covariance_similarity", "eigenvalues = s**2 ", "eigenvalues = s ",
                                  "A of X1, keep 0.99 WRONG", "paper's"),
    "ex11 A scaled by s^2": ("ex11_covariance_similarity", "A = Vt[:r].T * s[:r]", "A = Vt[:r].T * s[:r]**2",
                             "not s**2", "paper's"),
    "ex11 paper's normaliser": ("ex11_covariance_similarity",
                                "np.sqrt(np.linalg.norm(A1.T @ A1) * np.linalg.norm(A2.T @ A2))",
                                "(np.linalg.norm(A1) * np.linalg.norm(A2))", "the paper's ||A1||_F ||A2||_F",
                                "A of X1, keep 0.99 WRONG"),
    "mse summed": ("ex03_mse", "np.mean(diff ** 2)", "np.sum(diff ** 2)", "not their sum", "factor"),
    "mse over B only": ("ex03_mse", "2 * diff / diff.size", "2 * diff / len(diff)", "divided by the batch size B only",
                        "sign"),
    # ---- the new exercises: at least three typical wrong answers each ----
    "ex04 only the last task": ("ex04_shared_bottom_backward", "ds += ds_k", "ds = ds_k",
                                "this is where the tasks meet", "mask"),
    "ex04 tasks averaged": ("ex04_shared_bottom_backward", '    dz = ds * (c["s"] > 0)',
                            '    dz = ds / len(dpreds) * (c["s"] > 0)', "so their gradients add", "mask"),
    "ex04 no bottom mask": ("ex04_shared_bottom_backward", '    dz = ds * (c["s"] > 0)', "    dz = ds",
                            "the bottom: ReLU's mask", "the towers:"),
    "ex04 no tower mask": ("ex04_shared_bottom_backward", 'dz = dA * (c["A"][k] > 0)', "dz = dA",
                           "the towers: ReLU's mask", "the bottom:"),
    "ex07 verdict from the ratio": ("ex07_compare", VERDICT, 'verdict = "lower" if ratio < margin else "higher"',
                                    "cannot tell the direction", "too few"),
    "ex07 lower and higher swapped": ("ex07_compare", VERDICT, VERDICT.replace('"lower"', '"X"').replace(
        '"higher"', '"lower"').replace('"X"', '"higher"'), "means a is *lower*", "margin argument"),
    "ex07 margin ignored": ("ex07_compare", VERDICT, VERDICT.replace("margin", "1"), "margin argument",
                            "means a is *lower*"),
    "ex07 no minimum of runs": ("ex07_compare", "if len(a) < MIN_RUNS:", "if len(a) < 0:", "below 3 paired runs",
                                "margin"),
    "ex07 ties counted as wins": ("ex07_compare", "np.mean(a < b)", "np.mean(a <= b)", "strictly below", "verdict"),
    "ex08 not compiled": ("ex08_gate_mix_kernels", "@numba.njit\ndef gate_mix_forward", "def gate_mix_forward",
                          "gate_mix_forward() is not compiled by numba", "WRONG"),
    "ex08 one expert only": ("ex08_gate_mix_kernels", "F[k, b, u] = total",
                             "F[k, b, u] = G[k, b, E - 1] * H[b, u, E - 1]", "accumulate the sum over e", "dH"),
    "ex08 dH overwritten": ("ex08_gate_mix_kernels", "dH[b, u, e] += d * G[k, b, e]", "dH[b, u, e] = d * G[k, b, e]",
                            "feeds all K mixtures", "forward WRONG"),
    "ex08 einsum in njit": ("ex08_gate_mix_kernels", "    for k in range(K):\n        for b in range(B):\n"
                            "            for u in range(U):\n                total = 0.0\n", "    F = np.einsum("
                            "'kbe,bue->kbu', G, H)\n    for k in range(0):\n        for b in range(B):\n"
                            "            for u in range(U):\n                total = 0.0\n",
                            "numba could not compile it", "accumulate"),
    "ex09 ties not averaged": ("ex09_roc_auc", "rankdata(scores)", "rankdata(scores, method='ordinal')",
                               "share their average rank", "1 - AUC"),
    "ex09 flipped": ("ex09_roc_auc", "auc = (", "auc = 1 - (", "this is 1 - AUC", "ties"),
    "ex09 ranks from 0": ("ex09_roc_auc", "rankdata(scores)", "rankdata(scores) - 1", "ranks start at 1", "1 - AUC"),
    "ex10 divided by the multi-task loss": ("ex10_transfer", "(single - multi) / single", "(single - multi) / multi",
                                            "divide by the single-task loss", "1 - AUC"),
    "ex10 AUC as a loss": ("ex10_transfer", "1 - roc_auc", "roc_auc", "use the error 1 - AUC", "single-task loss"),
    "ex10 sign": ("ex10_transfer", "(single - multi) / single", "(multi - single) / single", "the sign is flipped",
                  "1 - AUC"),
    "ex12 not mean 1": ("ex12_task_weights", "weights = weights / weights.mean()", "pass", "mean 1", "largest first"),
    "ex12 bottom directions": ("ex12_task_weights", "U[:, :rank]", "U[:, -rank:]", "largest first", "mean 1"),
    "ex12 squared lengths": ("ex12_task_weights", "axis=0)\n    weights = weights",
                             "axis=0) ** 2\n    weights = weights", "not its square", "mean 1"),
    "ex12 normalize ignored": ("ex12_task_weights", "    if normalize:\n", "    if False:\n",
                               "scales every theta_k to length 1", "largest first"),
    "ex15 max before mean": ("ex15_gate_polarisation", "G.mean(axis=-2).max(axis=-1)", "G.max(axis=-1).mean(axis=-1)",
                             "average the gate over the inputs first", "pairs"),
    "ex15 axes swapped": ("ex15_gate_polarisation", "G.mean(axis=-2).max(axis=-1)", "G.mean(axis=-1).max(axis=-1)",
                          "the mean runs over the inputs", "pairs"),
    "ex15 diagonal counted": ("ex15_gate_polarisation", "(cosines.sum() - np.trace(cosines)) / (E * (E - 1))",
                              "cosines.mean()", "leave out the pairs e = e'", "inputs"),
    "ex15 not normalised": ("ex15_gate_polarisation", "    V = V / np.linalg.norm(V, axis=0)\n", "",
                            "divides the dot product by both vectors' lengths", "inputs"),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_a_typical_mistake_gets_its_hint(case):
    stem, old, new, says, not_says = WRONG[case]
    with np.errstate(all="ignore"):
        status, message = judge_here(body(stem, old, new))
    assert status == "FAIL", message
    assert says in message, message
    hints = message.split(" -- ", 1)[-1]
    assert not_says not in hints, message


def test_every_new_exercise_has_hints_measured_on_three_wrong_answers():
    new = ["ex04", "ex07", "ex08", "ex09", "ex10", "ex12", "ex15"]
    for prefix in new:
        assert sum(stem.startswith(prefix) for stem, *_ in WRONG.values()) >= 3, prefix


def test_the_report_names_every_wrong_parameter_from_the_loss_back_and_the_right_ones():
    status, message = judge_here(body("ex06_mmoe_backward", " * (A > 0)", ""))
    assert status == "FAIL"
    assert message.startswith("wrong, from the loss back: tower_kernel")
    order = [message.index(name + ":") for name in ("tower_kernel", "tower_bias", "gate_kernel", "expert_kernel")]
    assert order == sorted(order)
    assert "(right: output_kernel, output_bias)" in message
    assert message.count("the towers: ReLU's mask") == 1                  # one hint, not one per parameter


def test_a_staged_exercise_reports_the_stages_done_as_soon_as_they_are_written():
    text = solution("ex06_mmoe_forward")
    for stage in ("def gates", "def mix", "def towers"):                   # only the experts are written
        start = text.index("# ---- TODO", text.index(stage))
        end = text.index("# ---- end TODO ----", start)
        text = text[:start] + "# ---- TODO\n    raise NotImplementedError\n    " + text[end:]
    status, message = judge_here(text)
    assert status == "TODO"
    assert "right so far: H (experts)" in message and "not done yet: G (gates), F (mixtures), towers" in message
    wrong = text.replace('params["expert_bias"], 0)', "0, 0)")
    status, message = judge_here(wrong)
    assert status == "FAIL" and "H (experts) WRONG" in message and "G (gates) not done yet" in message, message
    assert "the expert bias is missing" in message


def test_adam_accepts_a_correct_reordering_of_the_arithmetic():
    reordered = body("ex03_adam_step", "param = param - lr * m_hat / (np.sqrt(v_hat) + eps)",
                     "param = param - (lr / (1 - beta1**t)) * m / (np.sqrt(v) / np.sqrt(1 - beta2**t) + eps)")
    assert judge_here(reordered)[0] == "PASS"
    assert all(call.tol == 1e-9 for call in exercises.EXERCISES["adam_step"]().calls)


def test_adam_exercise_expects_what_mmoe_np_adam_computes():
    from mmoe_np.optim import Adam
    for call in exercises.EXERCISES["adam_step"]().calls:
        param, grad, m, v, t, lr, beta1, beta2, eps = call.args
        opt = Adam(lr=lr, beta1=beta1, beta2=beta2, eps=eps, fused=False)
        params = {"w": param.copy()}
        if t > 1:                                    # put the optimizer at step t - 1 with these moments
            opt.step({"w": param.copy()}, {"w": np.zeros_like(grad)})
            opt.t, opt.m["w"][...], opt.v["w"][...] = t - 1, m, v
        opt.step(params, {"w": grad})
        np.testing.assert_allclose(params["w"], call.expected[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(opt.m["w"], call.expected[1], rtol=1e-12, atol=1e-15)


def test_mistake_models_give_the_right_answer_without_the_mistake():
    """The functions that compute typical mistakes compute the right answer with their defaults."""
    for call in exercises.EXERCISES["mmoe_backward"]().calls:
        right = model_exercises.mmoe_backward_with(*call.args)
        for name in model_exercises.ORDER:
            np.testing.assert_allclose(right[name], call.expected[name], rtol=1e-6, atol=1e-7)
    for call in exercises.EXERCISES["shared_bottom_backward"]().calls:
        right = model_exercises.shared_bottom_backward_with(*call.args)
        for name in model_exercises.SHARED_BOTTOM_ORDER:
            np.testing.assert_allclose(right[name], call.expected[name], rtol=1e-12, atol=1e-14)
    for call in exercises.EXERCISES["adam_step"]().calls:
        for got, want in zip(layer_exercises._adam(*call.args), call.expected):
            np.testing.assert_array_equal(got, want)
