#!/usr/bin/env bash
# Synthesises voicedesk's hold tune and encodes it to Ogg/Opus: media-relay/assets/hold-tune.opus.
#
# The tune is our own: a soft pad playing an eight-chord progression in C major
# (Cmaj7 Am7 Fmaj7 G Em7 Fmaj7 Dm7 G7, three seconds each) under a slow plucked melody.
# It ends on G7, which resolves into the opening Cmaj7, and every sound that rings past the
# end of the loop (the last chord's release, the last melody note) is folded back onto its
# start, so the loop has no seam: played end to start it is the same as any chord change.
#
# The relay loops Opus packets, not samples. Encoding just the loop would put the encoder's
# start-up (6.5 ms of pre-skip warm-up, then a transient) at every wrap-around: a tick every
# 24 s. So the encoder gets the loop with 60 ms of its own end before it and 20 ms of its
# start after it, and the file says which packets form the loop (OpusTags comments
# LOOP_START=3 LOOP_PACKETS=1200). Packet k carries input [k*960 - 312, (k+1)*960 - 312)
# (312 samples of encoder delay), so packets 3..1202 carry one whole period of the periodic
# input, starting 6.5 ms before the loop's first sample, from an encoder already warmed up
# on the same material; packets 0-2 and the padded last one are never played.
#
# Mono, 48 kHz, about -20 dBFS RMS, 24 kbit/s constrained-VBR Opus (plain VBR overshoots to
# ~43 kbit/s on this tonal material) in 20 ms frames. The build does not run this script;
# the relay embeds its output with include_bytes!. The output is reproducible (no dither,
# fixed Ogg serial).
#
# Needs: sox, opusenc (Debian: apt-get install sox opus-tools).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/hold-tune.opus}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rate=48000
preskip=312                    # opusenc's encoder delay at 48 kHz
loop_samples=$((24 * rate))    # 1200 frames of 960
lead_frames=3                  # 60 ms of the loop's end before it
lead_samples=$((lead_frames * 960))
s() { sox -D -V1 "$@"; } # no dither: the same input gives the same file

# --- Pad: one chord every 3 s, 3.5 s long with soft attack and release (they overlap). ---
chords=(
  "C3 G3 B3 E4"  # Cmaj7
  "A2 G3 C4 E4"  # Am7
  "F2 A3 C4 E4"  # Fmaj7
  "G2 G3 B3 D4"  # G
  "E2 G3 B3 D4"  # Em7
  "F2 A3 C4 E4"  # Fmaj7
  "D3 F3 A3 C4"  # Dm7
  "G2 F3 B3 D4"  # G7
)
pad_inputs=()
for i in "${!chords[@]}"; do
  tones=()
  for note in ${chords[$i]}; do tones+=(sine "$note"); done
  s -n -r $rate -c 4 -b 24 "$work/tones$i.wav" synth 3.5 "${tones[@]}"
  s "$work/tones$i.wav" -c 1 "$work/chord$i.wav" remix - fade h 0.6 3.5 0.8 pad $((i * 3))
  pad_inputs+=(-v 1 "$work/chord$i.wav")
done
s -m "${pad_inputs[@]}" "$work/pad.wav" lowpass 1800 gain -n -3

# --- Melody: plucked notes, "start note" pairs (seconds). ---
melody=(
  0.30 C5 1.05 E5 1.80 G5
  3.30 E5 4.05 D5 4.80 C5
  6.30 A4 7.05 C5 7.80 F5 8.55 E5
  9.30 D5 10.05 B4 10.80 G4
  12.30 G4 13.05 B4 13.80 E5
  15.30 F5 16.05 E5 16.80 C5
  18.30 D5 19.05 F5 19.80 A5 20.55 F5
  21.30 G5 22.05 F5 22.80 D5 23.40 B4
)
mel_inputs=()
for ((i = 0; i < ${#melody[@]}; i += 2)); do
  start="${melody[$i]}"
  note="${melody[$((i + 1))]}"
  s -n -r $rate -c 1 -b 24 "$work/note$i.wav" synth 1.8 pluck "$note" \
    fade h 0.01 1.8 0.6 pad "$start"
  mel_inputs+=(-v 1 "$work/note$i.wav")
done
s -m "${mel_inputs[@]}" "$work/melody.wav" lowpass 3500 gain -n -3

# --- Mix, fold what rings past the loop end back onto the start, set the level. ---
s -m -v 1 "$work/pad.wav" -v 0.7 "$work/melody.wav" "$work/mix.wav" reverb 30 50 60
s "$work/mix.wav" "$work/main.wav" trim 0 "${loop_samples}s"
s "$work/mix.wav" "$work/tail.wav" trim "${loop_samples}s"
s -m -v 1 "$work/main.wav" -v 1 "$work/tail.wav" "$work/loop.wav" trim 0 "${loop_samples}s"
rms="$(sox "$work/loop.wav" -n stats 2>&1 | awk '/RMS lev dB/ {print $4}')"
gain="$(awk -v r="$rms" 'BEGIN {printf "%.2f", -20 - r}')"
s "$work/loop.wav" -b 16 "$work/hold.wav" gain "$gain"
sox "$work/hold.wav" -n stats 2>&1 | grep -E 'Pk lev dB|RMS lev dB|Length s'

# Encoder input: the last 60 ms of the loop, the loop, its first 20 ms.
s "$work/hold.wav" "$work/lead.wav" trim "$((loop_samples - lead_samples))s"
s "$work/hold.wav" "$work/foot.wav" trim 0 960s
s "$work/lead.wav" "$work/hold.wav" "$work/foot.wav" "$work/input.wav"

# Packet k holds input samples [k*960 - 312, (k+1)*960 - 312); packets lead_frames ..
# lead_frames+1199 hold input [2568, 2568 + 24 s): one whole period of the loop.
opusenc --quiet --bitrate 24 --cvbr --framesize 20 --comp 10 --serial 1 \
  --title "voicedesk hold tune" --artist "voicedesk" \
  --comment "LOOP_START=$lead_frames" --comment "LOOP_PACKETS=$((loop_samples / 960))" \
  "$work/input.wav" "$out"
echo "wrote $out ($(wc -c <"$out") bytes)"
