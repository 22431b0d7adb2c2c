"""Homolog search: the FAISS index, building it, FAISS settings and alignment backends."""
