"""Live chat: the embeddable widget's conversations, pushed both ways in real time."""
