"""What several nodes share and no tool should know: model calls in the run's terms (models), the
run's containment (containment: sandbox_for, gpu_env), and a candidate's GPU work (gpu_work).
"""
