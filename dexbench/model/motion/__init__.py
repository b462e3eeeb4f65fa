"""Stage 1: the disentangled motion trainer (pose encoder, expression encoder, appearance volume, AdaIN decoder)."""
