"""Draws docs/tour.png, the picture in README.rst, with the code of the README's tour."""

from pathlib import Path

import relustep
from relustep.plot import new_figure, plot_losses, save_figure

data = relustep.datasets.load("concrete")
histories = {}
for step in ["constant", "nesterov", "adam"]:
    model = relustep.ReLURegressor((64,), step=step, epochs=60, batch_size=32, random_state=0)
    model.fit(data.X_train, data.y_train, validation_data=(data.X_test, data.y_test))
    histories[step] = model.history_

figure, (by_epoch, by_seconds) = new_figure(n_columns=2)
plot_losses(histories, x="epochs", ax=by_epoch)
plot_losses(histories, x="seconds", which="val_loss", ax=by_seconds)
by_epoch.set_title("concrete: training loss")
by_seconds.set_title("test loss against training time")
save_figure(figure, Path(__file__).parent / "tour.png")
