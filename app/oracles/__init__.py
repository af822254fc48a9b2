"""Oracles that answer for people: language models behind an OpenAI-compatible API.

``config`` says where one is and how to ask it, ``openai`` asks it for one label of a fixed
set, ``local`` serves the packaged Gemma 3 270M model with llama.cpp on this machine.
"""
