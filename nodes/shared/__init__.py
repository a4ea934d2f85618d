"""What several nodes share and no tool should know: model calls in the run's terms, the run's
containment, and the GPU work of a candidate."""
