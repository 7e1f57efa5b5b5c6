"""Exercise 13 -- the CGC forward pass from its parameters (lesson 13).

``params`` has the keys of ``mmoe_np.CGC(...).params`` (K tasks, m_t experts per task,
m_s shared experts, U units):
  l1_task_expert_kernel (K, D, U, m_t), l1_task_expert_bias (K, U, m_t)
  l1_shared_expert_kernel (D, U, m_s),  l1_shared_expert_bias (U, m_s)
  l1_task_gate_kernel (K, D, m_t + m_s), l1_task_gate_bias (K, m_t + m_s)
  tower_kernel (K, U, T), tower_bias (K, T), output_kernel (K, T, O), output_bias (K, O)

For each task k:
    own     = relu(x W_task[k] + b_task[k])        (B, U, m_t)   task k's experts
    shared  = relu(x W_shared + b_shared)          (B, U, m_s)   the shared experts
    S_k     = [own, shared] along the expert axis  (B, U, m_t + m_s)
    g       = softmax(x Wg[k] + bg[k])             (B, m_t + m_s)
    f       = sum_e g[:, e] S_k[:, :, e]           (B, U)
    y_k     = relu(f Wt[k] + bt[k]) Wo[k] + bo[k]  (B, O)

Return the list [y_1, ..., y_K].

Check your answer:  python -m mmoe_np.check lessons/exercises/ex13_cgc_forward.py
"""
import numpy as np

EXERCISE = "cgc_forward"


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cgc_forward(X, params):
    p = params
    K = p["l1_task_gate_kernel"].shape[0]
    preds = []
    # ---- TODO: shared experts once, then for each task: own experts, gate, mixture, tower ----
    # write your code here, then delete the next line
    raise NotImplementedError("fill in the TODO")
    # ---- end TODO ----
    return preds
