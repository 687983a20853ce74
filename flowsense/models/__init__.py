"""Training, evaluation and model storage (MLflow) for the models of ``operators``."""
