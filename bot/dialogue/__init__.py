"""The conversation engine: flows written as data, run on every channel.

``flows`` loads and checks ``flows/*.yaml``; ``engine`` runs one turn of a
conversation (urgent first, then buttons, commands, phrases, the matcher's topic);
``actions`` is what a flow can do besides talking; ``turns`` makes turns of the
messages a person sent while the bot waited for them to pause.
"""
