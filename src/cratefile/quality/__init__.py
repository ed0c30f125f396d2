"""Know what you really have: each download's provenance (lossless, lossy, upscaled) and its
acoustic fingerprint, measured once at download time, and the duplicates the fingerprints find.

- `provenance`: stream facts from ffmpeg, effective bandwidth from the spectrum, the verdict;
- `fingerprint`: Chromaprint through ffmpeg's muxer, similarity at the best alignment;
- `record`: the one ffmpeg run that measures both, and the JSON record it leaves;
- `dupes`: the fingerprint index (an inverted index of sampled items) and duplicate groups;
- `policy`: `from_lossy` for lossless targets;
- `step`: what the download stage calls.
"""
