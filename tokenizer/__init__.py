"""corpusmill's tokenizer library: byte-level BPE training and encoding (usable without Beam)."""
from tokenizer.encode import Encoder, load_directory
from tokenizer.train import train_tokenizer

__all__ = ["Encoder", "load_directory", "train_tokenizer"]
