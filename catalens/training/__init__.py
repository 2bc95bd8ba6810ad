"""Model training tools of the product (the aligned embedder); detector training is in
`catalens.mlops`."""
