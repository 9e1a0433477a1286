"""corpusmill's tokenizer library: byte-level BPE training and encoding (usable without Beam)."""
from tokenizer.encode import Encoder, load_tokenizer
from tokenizer.train import train_tokenizer

__all__ = ["Encoder", "load_tokenizer", "train_tokenizer"]
