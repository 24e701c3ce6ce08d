//! The Ogg/Opus reader and writer: the reader never panics on any file; packets written by the
//! writer read back as the same packets.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use voicedesk_media_relay::ogg::{OggOpusWriter, OpusHead, parse_ogg_opus};

fuzz_target!(|data: &[u8]| {
    // Any bytes as a file.
    let _ = parse_ogg_opus(data);

    // A round trip of packets drawn from the same bytes.
    let mut u = Unstructured::new(data);
    let Ok(packets) = Vec::<Vec<u8>>::arbitrary(&mut u) else { return };
    let packets: Vec<Vec<u8>> =
        packets.into_iter().filter(|p| !p.is_empty() && p.len() < 4000).take(200).collect();
    let mut writer = OggOpusWriter::new(Vec::new(), OpusHead::new(1, 312), 7).expect("in memory");
    for p in &packets {
        writer.write_packet(p, 960).expect("in memory");
    }
    let file = writer.finish().expect("in memory");
    let read = parse_ogg_opus(&file).expect("our own file reads back");
    assert_eq!(read.packets.len(), packets.len());
    for (got, sent) in read.packets.iter().zip(&packets) {
        assert_eq!(&got[..], &sent[..]);
    }
});
