import numpy as np
from chainrule import keras

x = np.linspace(-1, 1, 100)
y = 2 * x + np.random.randn(100)
model = keras.Sequential([
    keras.layers.Dense(1, input_shape=(1,))
])
model.compile(optimizer='sgd', loss='mse')
model.fit(x.reshape(-1, 1), y, epochs=1000, verbose=0)
preds = model.predict(x.reshape(-1, 1))
