"""Model lifecycle: training runs, evaluation, the MLflow registry and promotion."""
