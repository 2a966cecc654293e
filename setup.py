"""Installation script for nnlite and the graded ``spec_api`` package."""
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    """Return ``__version__`` from ``nnlite/_version.py`` without importing nnlite."""
    namespace = {}
    with open(os.path.join(HERE, "nnlite", "_version.py"), encoding="utf-8") as handle:
        exec(handle.read(), namespace)
    return namespace["__version__"]


with open(os.path.join(HERE, "README.md"), encoding="utf-8") as handle:
    LONG_DESCRIPTION = handle.read()

setup(
    name="nnlite",
    version=read_version(),
    description="A small layered neural-network framework for sparse autoencoders "
    "and self-taught feature learning on natural images.",
    long_description=LONG_DESCRIPTION,
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["nnlite", "nnlite.*", "spec_api", "spec_api.*"]),
    install_requires=[
        "numpy>=1.22",
        "scipy>=1.9",
        "matplotlib>=3.5",
        "Pillow>=9.0",
        "scikit-learn>=1.1",
        "threadpoolctl>=3",
    ],
    extras_require={
        # The test suite also runs the notebook (nbclient) and the Dask cluster tests.
        "test": ["pytest>=7", "hypothesis>=6", "nbclient>=0.6", "nbformat>=5", "ipykernel>=6",
                 "dask[distributed]>=2023"],
        # Executing notebooks/nnlite_report.ipynb (nnlite report needs only the core dependencies).
        "notebook": ["nbclient>=0.6", "nbformat>=5", "ipykernel>=6"],
        # CuPy wheels are built per CUDA major version; cupy-cuda12x serves CUDA 12.x drivers.
        "gpu": ["cupy-cuda12x>=13"],
        "gpu-cuda13": ["cupy-cuda13x>=13"],
        "bench": ["threadpoolctl>=3"],
        # Training and feature extraction on a Dask cluster (nnlite.distributed, --scheduler).
        "distributed": ["dask[distributed]>=2023"],
    },
    entry_points={"console_scripts": ["nnlite=nnlite.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
