"""The reference DeX-Portrait model: stage 1 motion trainer (GAN), stage 2 diffusion, progressive hybrid guidance.

Choices the paper leaves open are documented in reference_model/README.md.
"""
