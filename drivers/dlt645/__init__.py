"""DL/T 645-2007/-1997 electricity meters on RS-485: codec, requests, line master, profiles, simulator.

See README.md in this folder for the interfaces and how they plug into the shared RS-485 bus service.
"""
