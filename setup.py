"""The one part pyproject.toml cannot say with this setuptools: the C child
(rustbox/running/_child.c), compiled by pip from source (gcc and the Python
headers: ./setup.sh installs them)."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("rustbox.running._child", ["rustbox/running/_child.c"],
                             extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"])])
