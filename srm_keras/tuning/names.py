"""The names a search offers, without loading keras-tuner (the command's ``--help`` lists them)."""

#: Recalibration choices of the default search space (``"none"``: the plain network).
MODULES = ("none", "se", "ge", "srm")
#: keras-tuner's search strategies, by the name ``search(tuner=...)`` takes.
TUNER_NAMES = ("bayesian", "hyperband", "random")
