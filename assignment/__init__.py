"""The MNIST lab: the student's template and the lab's experiments.

``template.py`` (and ``template.ipynb``, generated from it by ``notebook``) is
what a student receives. ``python -m assignment`` runs the lab's experiments
(``experiments``): 1-, 2- and 3-layer perceptrons with tanh, ReLU and sigmoid,
and answers the lab's four questions from the measured numbers (``answers``).
"""
