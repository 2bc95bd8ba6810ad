"""Embedding models behind the `Embedder` port: our aligned text↔image model (`aligned/`),
open_clip (`open_clip_backend.py`) and transformers CLIP folders such as FashionCLIP
(`hf_clip_backend.py`), chosen from settings by `factory.build_embedder`. The embedder service
runs them on the pipeline; the query service embeds its queries and the offline captioner its
zero-shot prompts with the same models."""
