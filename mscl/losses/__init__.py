"""Contrastive losses as pure functions of tensors: InfoNCE, local motion contrast (LMCL) and the
named terms of the MSCL objective."""
