"""Training the aligned embedder: catalog pairs, cached tower features, head fitting, held-out
evaluation and the versioned artifact that `core.embedding.aligned` loads."""
