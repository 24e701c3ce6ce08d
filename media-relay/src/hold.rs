//! Hold audio: the tune the relay plays to a waiting citizen.
//!
//! The tune ships inside the binary (`assets/hold-tune.opus`, made by
//! `assets/make-hold-tune.sh`) and is parsed once into Opus packets of 20 ms each. The file
//! may say which of its packets form the loop, with the `OpusTags` comments `LOOP_START`
//! (index of the first loop packet) and `LOOP_PACKETS` (how many); the packets before the
//! loop only warm the encoder up, so that the wrap-around carries no encoder start-up. The relay
//! core sends them one per 20 ms tick to slot 0 of every held leg whose slot 0 has no source
//! (see [`crate::RelayCore::set_hold`]); each packet is a reference-counted slice of one
//! shared buffer, so a tick copies no audio.

use std::sync::{Arc, LazyLock};

use bytes::Bytes;

use crate::ogg::{OggError, opus_packet_samples, parse_ogg_opus};
use crate::rewrite::FRAME_TICKS;

/// The embedded hold tune, an Ogg/Opus file.
pub const HOLD_TUNE_OGG: &[u8] = include_bytes!("../assets/hold-tune.opus");

/// A loop of Opus packets of exactly 20 ms (960 samples at 48 kHz) each.
#[derive(Debug, Clone)]
pub struct HoldTune {
    packets: Vec<Bytes>,
}

impl HoldTune {
    /// Reads an Ogg/Opus file: its loop (`LOOP_START`/`LOOP_PACKETS` comments, the whole
    /// file without them). Every loop packet must be 20 ms long (one 960-tick RTP frame),
    /// and there must be at least one.
    pub fn from_ogg(data: &[u8]) -> Result<Self, OggError> {
        let parsed = parse_ogg_opus(data)?;
        let comment = |key: &str| {
            parsed.comments.iter().find_map(|c| {
                let (k, v) = c.split_once('=')?;
                k.eq_ignore_ascii_case(key).then(|| v.trim().parse::<usize>().ok())?
            })
        };
        let start = comment("LOOP_START").unwrap_or(0);
        let count = comment("LOOP_PACKETS").unwrap_or(parsed.packets.len().saturating_sub(start));
        let looped = parsed
            .packets
            .get(start..start.saturating_add(count))
            .ok_or(OggError::NotOpus("the hold tune's loop lies outside its packets"))?;
        if looped.is_empty() {
            return Err(OggError::NotOpus("the hold tune has no audio packets"));
        }
        if looped.iter().any(|p| opus_packet_samples(p) != Some(FRAME_TICKS)) {
            return Err(OggError::NotOpus("every hold tune packet must be 20 ms long"));
        }
        let buffer = Bytes::from(looped.concat());
        let mut at = 0;
        let packets = looped
            .iter()
            .map(|p| {
                at += p.len();
                buffer.slice(at - p.len()..at)
            })
            .collect();
        Ok(Self { packets })
    }

    /// The embedded tune, parsed on first use and shared.
    pub fn builtin() -> Arc<Self> {
        static TUNE: LazyLock<Arc<HoldTune>> = LazyLock::new(|| {
            Arc::new(HoldTune::from_ogg(HOLD_TUNE_OGG).expect("the embedded hold tune is valid"))
        });
        Arc::clone(&TUNE)
    }

    /// The packets in playing order.
    pub fn packets(&self) -> &[Bytes] {
        &self.packets
    }

    /// Number of packets (the loop lasts this many × 20 ms).
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Always false: a tune has at least one packet.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_comments_select_the_packets() {
        let parsed = parse_ogg_opus(HOLD_TUNE_OGG).unwrap();
        assert!(parsed.comments.contains(&"LOOP_START=3".to_owned()), "{:?}", parsed.comments);
        let tune = HoldTune::builtin();
        assert_eq!(tune.len(), 1200);
        assert_eq!(tune.packets()[0], parsed.packets[3]);
        assert_eq!(tune.packets()[1199], parsed.packets[1202]);
    }

    #[test]
    fn the_builtin_tune_is_a_loop_of_20ms_packets_of_20_to_30_seconds() {
        let tune = HoldTune::builtin();
        let seconds = tune.len() as f64 * 0.02;
        assert!((20.0..=30.0).contains(&seconds), "{seconds} s");
        assert!(tune.packets().iter().all(|p| opus_packet_samples(p) == Some(960)));
        assert!(Arc::ptr_eq(&tune, &HoldTune::builtin()), "parsed once");
    }
}
