"""debvader_euclid: deblending Euclid VIS galaxy stamps with variational autoencoders."""

__version__ = "0.1.0"
