def one_layer(n_inputs, n_classes):
    while True:
        pass
