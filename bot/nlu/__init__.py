"""Understanding a message: the knowledge base, language identification, the matcher.

``knowledge`` loads and checks ``knowledge/``; ``language`` tells which of the six
languages a message is in; ``urgent`` catches emergencies; ``matcher`` picks the topic
that answers a message, or abstains. Nothing here downloads anything or needs a server.
"""
