"""Simulated Euclid VIS galaxy stamps: EGG catalogues -> GalSim -> TFRecords.

Pixel values are microJansky per 0.1 arcsec pixel (AB zero point 23.9), so the
sum of a noiseless stamp is the flux of what it holds in microJansky.
"""
