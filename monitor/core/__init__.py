"""The pure core: types, settings, the ``Monitor``; no I/O, no asyncio (with dsp/ and detect/)."""
