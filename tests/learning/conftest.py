"""Shared fixtures: a small three-topic English corpus (sports, cooking, computing)."""

import numpy as np
import pytest
import scipy.sparse as sp

from app.learning.features import TfidfFeaturizer

SPORTS = [
    "The striker scored a late goal to win the football match.",
    "Our team lost the basketball game in overtime.",
    "The goalkeeper saved a penalty in the second half.",
    "She won the tennis final in straight sets.",
    "The coach praised the defence after the match.",
    "Fans cheered as the team lifted the trophy.",
    "The referee showed a red card to the midfielder.",
    "He ran the marathon in under three hours.",
    "The cricket team batted first and scored well.",
    "Our football club signed a new striker this season.",
    "The players trained hard before the championship game.",
    "The match ended in a draw after extra time.",
    "The sprinter broke the world record in the final.",
    "The league table changed after the weekend matches.",
    "The captain led the team to a famous victory.",
]
COOKING = [
    "Chop the onions and fry them in olive oil.",
    "Bake the bread in a hot oven for forty minutes.",
    "Stir the sauce gently and add a pinch of salt.",
    "The recipe needs two eggs, flour and butter.",
    "Simmer the soup for an hour with fresh herbs.",
    "Roast the chicken with garlic and lemon.",
    "Whisk the cream until it forms soft peaks.",
    "Season the steak with pepper before grilling it.",
    "Boil the pasta in salted water until tender.",
    "Knead the dough and let it rise overnight.",
    "Add the chopped tomatoes to the pan and simmer.",
    "This cake recipe uses brown sugar and butter.",
    "Slice the vegetables thinly for the stir fry.",
    "Melt the chocolate slowly over a pan of hot water.",
    "Serve the curry with rice and fresh coriander.",
]
COMPUTING = [
    "The laptop crashed after the software update.",
    "Install the python package with pip.",
    "The server ran out of memory during the build.",
    "Reboot the computer to finish installing the driver.",
    "The database query returned an error message.",
    "Compile the program and run the unit tests.",
    "The new processor has eight cores and fast memory.",
    "Back up your files before upgrading the operating system.",
    "The browser keeps freezing when I open many tabs.",
    "The network cable was unplugged from the router.",
    "Our code review found a bug in the login function.",
    "The keyboard and mouse stopped working after the update.",
    "Deploy the web server with the new configuration file.",
    "The hard drive is almost full, delete old files.",
    "The script parses the log file and prints errors.",
]


@pytest.fixture(scope="session")
def texts() -> list[str]:
    """45 sentences, 15 per topic, in topic order."""
    return SPORTS + COOKING + COMPUTING


@pytest.fixture(scope="session")
def topics() -> np.ndarray:
    """(45,) topic index per sentence: 0 sports, 1 cooking, 2 computing."""
    return np.repeat(np.arange(3), 15)


@pytest.fixture(scope="session")
def featurizer(texts: list[str]) -> TfidfFeaturizer:
    return TfidfFeaturizer().fit(texts)


@pytest.fixture(scope="session")
def features(featurizer: TfidfFeaturizer, texts: list[str]) -> sp.csr_matrix:
    """(45, d) float32 features of the corpus."""
    return featurizer.transform(texts)
