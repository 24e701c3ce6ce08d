//! Ogg/Opus files (RFC 3533 pages, RFC 7845 Opus mapping), pure and small.
//!
//! - [`parse_ogg_opus`] turns a whole Ogg/Opus stream into its `OpusHead` and its audio
//!   packets: it checks the capture pattern, the version and every page's CRC, reassembles
//!   packets from lacing values (including packets that span pages) and skips the
//!   `OpusHead`/`OpusTags` header packets. The relay uses it once, for the hold tune.
//! - [`OggOpusWriter`] writes an Ogg/Opus stream from Opus packets and their sample counts
//!   (`OpusHead`, `OpusTags`, data pages of about one second with granule positions and CRC,
//!   the last page flagged end-of-stream). It is meant for recording voice messages.
//! - [`opus_packet_samples`] reads a packet's duration from its TOC byte (RFC 6716 §3.1).
//!
//! Only one logical stream is read: pages of other streams multiplexed into the same file are
//! skipped. Channel mapping families other than 0 are parsed but their tables are not kept.

use std::io::{self, Write};

/// Why an Ogg/Opus stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OggError {
    /// No `OggS` capture pattern where a page must start.
    #[error("no Ogg capture pattern at byte {0}")]
    BadCapture(usize),
    /// A page header declares a stream structure version other than 0.
    #[error("unsupported Ogg version {version} at byte {offset}")]
    BadVersion {
        /// Byte offset of the page.
        offset: usize,
        /// The version found.
        version: u8,
    },
    /// The data ends inside a page or inside a packet.
    #[error("the Ogg stream is truncated")]
    Truncated,
    /// A page's checksum does not match its contents.
    #[error("CRC mismatch in the Ogg page at byte {0}")]
    BadCrc(usize),
    /// Packet continuation flags and lacing values disagree.
    #[error("broken packet continuation in the Ogg page at byte {0}")]
    BrokenContinuation(usize),
    /// The first packet is not a valid `OpusHead`.
    #[error("not an Ogg/Opus stream: {0}")]
    NotOpus(&'static str),
}

/// The identification header (`OpusHead`, RFC 7845 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusHead {
    /// Output channel count (1 or 2 for mapping family 0).
    pub channels: u8,
    /// Samples (at 48 kHz) to discard from the decoder output at the start.
    pub pre_skip: u16,
    /// Sample rate of the original input (informational).
    pub input_sample_rate: u32,
    /// Output gain in Q7.8 dB.
    pub output_gain: i16,
    /// Channel mapping family (0: mono/stereo, one stream).
    pub mapping_family: u8,
}

impl OpusHead {
    /// A mono or stereo (`channels` 1 or 2) header for a 48 kHz source with `pre_skip`.
    pub fn new(channels: u8, pre_skip: u16) -> Self {
        Self { channels, pre_skip, input_sample_rate: 48_000, output_gain: 0, mapping_family: 0 }
    }

    fn parse(packet: &[u8]) -> Result<Self, OggError> {
        if packet.len() < 19 || &packet[..8] != b"OpusHead" {
            return Err(OggError::NotOpus("the first packet is not an OpusHead"));
        }
        if packet[8] >> 4 != 0 {
            return Err(OggError::NotOpus("unsupported OpusHead major version"));
        }
        let head = Self {
            channels: packet[9],
            pre_skip: u16::from_le_bytes([packet[10], packet[11]]),
            input_sample_rate: u32::from_le_bytes([packet[12], packet[13], packet[14], packet[15]]),
            output_gain: i16::from_le_bytes([packet[16], packet[17]]),
            mapping_family: packet[18],
        };
        if head.channels == 0 {
            return Err(OggError::NotOpus("OpusHead declares zero channels"));
        }
        if head.mapping_family != 0 && packet.len() < 21 + head.channels as usize {
            return Err(OggError::NotOpus("OpusHead channel mapping table is truncated"));
        }
        Ok(head)
    }

    fn to_bytes(self) -> [u8; 19] {
        let mut out = [0u8; 19];
        out[..8].copy_from_slice(b"OpusHead");
        out[8] = 1;
        out[9] = self.channels;
        out[10..12].copy_from_slice(&self.pre_skip.to_le_bytes());
        out[12..16].copy_from_slice(&self.input_sample_rate.to_le_bytes());
        out[16..18].copy_from_slice(&self.output_gain.to_le_bytes());
        out[18] = 0;
        out
    }
}

/// A parsed Ogg/Opus stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggOpus {
    /// The identification header.
    pub head: OpusHead,
    /// The `OpusTags` vendor string.
    pub vendor: String,
    /// The `OpusTags` user comments (`KEY=value`), in order.
    pub comments: Vec<String>,
    /// The audio packets in order (header packets excluded).
    pub packets: Vec<Vec<u8>>,
    /// Granule position of the stream's last page that completes a packet (total decoded
    /// samples at 48 kHz including `pre_skip`; playback length is this minus `pre_skip`).
    pub final_granule: u64,
}

/// Page header flag: the first packet on the page continues one from the previous page.
const FLAG_CONTINUED: u8 = 0x01;
/// Page header flag: first page of a logical stream.
const FLAG_BOS: u8 = 0x02;
/// Page header flag: last page of a logical stream.
const FLAG_EOS: u8 = 0x04;
/// Fixed part of a page header.
const HEADER_LEN: usize = 27;
/// Granule position of a page on which no packet ends.
const NO_GRANULE: u64 = u64::MAX;
/// Lacing values per page.
const MAX_SEGMENTS: usize = 255;

/// CRC-32 as Ogg uses it: polynomial 0x04C11DB7, initial value 0, not reflected, no final
/// XOR, computed over the page with its checksum field zeroed.
pub fn ogg_crc(data: &[u8]) -> u32 {
    crc_update(0, data)
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 { (r << 1) ^ 0x04C1_1DB7 } else { r << 1 };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
};

fn crc_update(mut crc: u32, data: &[u8]) -> u32 {
    for &byte in data {
        crc = (crc << 8) ^ CRC_TABLE[((crc >> 24) as u8 ^ byte) as usize];
    }
    crc
}

/// The duration of an Opus packet in samples at 48 kHz, from its TOC byte and frame count
/// (RFC 6716 §3.1). `None` for an empty or malformed packet.
pub fn opus_packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let frame = match config {
        // SILK: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1920, 2880][(config % 4) as usize],
        // Hybrid: 10, 20 ms.
        12..=15 => [480, 960][(config % 2) as usize],
        // CELT: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][(config % 4) as usize],
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3F),
    };
    let samples = frame * frames;
    // At most 120 ms per packet.
    (frames > 0 && samples <= 5760).then_some(samples)
}

/// Parses a whole Ogg/Opus stream. See the module documentation.
pub fn parse_ogg_opus(data: &[u8]) -> Result<OggOpus, OggError> {
    let mut offset = 0;
    let mut serial = None;
    let mut partial: Vec<u8> = Vec::new();
    let mut in_packet = false;
    let mut head = None;
    let mut tags = None;
    let mut packets = Vec::new();
    let mut final_granule = 0;
    while offset < data.len() {
        let page = data.get(offset..offset + HEADER_LEN).ok_or(OggError::Truncated)?;
        if &page[..4] != b"OggS" {
            return Err(OggError::BadCapture(offset));
        }
        if page[4] != 0 {
            return Err(OggError::BadVersion { offset, version: page[4] });
        }
        let flags = page[5];
        let granule = u64::from_le_bytes(page[6..14].try_into().expect("8 bytes"));
        let page_serial = u32::from_le_bytes(page[14..18].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(page[22..26].try_into().expect("4 bytes"));
        let segments = page[26] as usize;
        let lacing_end = offset + HEADER_LEN + segments;
        let lacing = data.get(offset + HEADER_LEN..lacing_end).ok_or(OggError::Truncated)?;
        let body_len: usize = lacing.iter().map(|&l| l as usize).sum();
        let end = lacing_end + body_len;
        let whole = data.get(offset..end).ok_or(OggError::Truncated)?;
        let computed = crc_update(crc_update(crc_update(0, &whole[..22]), &[0; 4]), &whole[26..]);
        if computed != crc {
            return Err(OggError::BadCrc(offset));
        }
        let page_start = offset;
        offset = end;
        match serial {
            None if flags & FLAG_BOS != 0 => serial = Some(page_serial),
            None => return Err(OggError::NotOpus("the stream does not begin with a BOS page")),
            Some(s) if s != page_serial => continue,
            Some(_) => {}
        }
        if (flags & FLAG_CONTINUED != 0) != in_packet {
            return Err(OggError::BrokenContinuation(page_start));
        }
        let mut at = lacing_end;
        let mut completed = false;
        for &len in lacing {
            partial.extend_from_slice(&data[at..at + len as usize]);
            at += len as usize;
            in_packet = true;
            if len < 255 {
                in_packet = false;
                completed = true;
                let packet = std::mem::take(&mut partial);
                if head.is_none() {
                    head = Some(OpusHead::parse(&packet)?);
                } else if tags.is_none() {
                    tags = Some(parse_tags(&packet)?);
                } else {
                    packets.push(packet);
                }
            }
        }
        if completed && granule != NO_GRANULE {
            final_granule = granule;
        }
        if flags & FLAG_EOS != 0 {
            break;
        }
    }
    if in_packet {
        return Err(OggError::Truncated);
    }
    let head = head.ok_or(OggError::NotOpus("no OpusHead packet"))?;
    let (vendor, comments) = tags.ok_or(OggError::NotOpus("no OpusTags packet"))?;
    Ok(OggOpus { head, vendor, comments, packets, final_granule })
}

/// One page of an Ogg stream: its serial, its granule position and its bytes.
type Page<'a> = (u32, u64, &'a [u8]);

/// The pages of an Ogg stream, in order (not checked beyond their framing).
fn pages(data: &[u8]) -> Result<Vec<Page<'_>>, OggError> {
    let mut offset = 0;
    let mut out = Vec::new();
    while offset < data.len() {
        let page = data.get(offset..offset + HEADER_LEN).ok_or(OggError::Truncated)?;
        if &page[..4] != b"OggS" {
            return Err(OggError::BadCapture(offset));
        }
        let granule = u64::from_le_bytes(page[6..14].try_into().expect("8 bytes"));
        let serial = u32::from_le_bytes(page[14..18].try_into().expect("4 bytes"));
        let segments = page[26] as usize;
        let lacing = data
            .get(offset + HEADER_LEN..offset + HEADER_LEN + segments)
            .ok_or(OggError::Truncated)?;
        let end =
            offset + HEADER_LEN + segments + lacing.iter().map(|&l| l as usize).sum::<usize>();
        out.push((serial, granule, data.get(offset..end).ok_or(OggError::Truncated)?));
        offset = end;
    }
    Ok(out)
}

/// Interleaves whole Ogg/Opus streams (each as [`OggOpusWriter`] writes it, distinct serials)
/// into one grouped Ogg file (RFC 3533 §4): every stream's BOS page first, then every
/// `OpusTags` page, then the data pages in time order (by granule position; a page on which
/// no packet ends counts as its stream's previous granule), ties in stream order. Streams
/// that share a time origin thus stay in time with each other in the file.
pub fn multiplex(streams: &[Vec<u8>]) -> Result<Vec<u8>, OggError> {
    let mut all: Vec<(u8, u64, usize, usize, &[u8])> = Vec::new();
    for (index, stream) in streams.iter().enumerate() {
        let mut last = 0;
        for (seq, (_, granule, page)) in pages(stream)?.into_iter().enumerate() {
            let phase = seq.min(2) as u8; // 0: OpusHead, 1: OpusTags, 2: data
            if granule != NO_GRANULE {
                last = granule;
            }
            all.push((phase, if phase < 2 { 0 } else { last }, index, seq, page));
        }
    }
    all.sort_by_key(|&(phase, granule, index, seq, _)| (phase, granule, index, seq));
    Ok(all.into_iter().flat_map(|(.., page)| page.iter().copied()).collect())
}

/// Splits a grouped Ogg file into its logical streams, in the order their BOS pages come,
/// each as its own byte stream (for [`parse_ogg_opus`]). Page CRCs are checked by the parse.
pub fn demultiplex(data: &[u8]) -> Result<Vec<Vec<u8>>, OggError> {
    let mut serials: Vec<u32> = Vec::new();
    let mut streams: Vec<Vec<u8>> = Vec::new();
    for (serial, _, page) in pages(data)? {
        let at = match serials.iter().position(|s| *s == serial) {
            Some(at) => at,
            None => {
                serials.push(serial);
                streams.push(Vec::new());
                streams.len() - 1
            }
        };
        streams[at].extend_from_slice(page);
    }
    Ok(streams)
}

/// The comment header (`OpusTags`, RFC 7845 §5.2): vendor string and user comments.
fn parse_tags(packet: &[u8]) -> Result<(String, Vec<String>), OggError> {
    const BAD: OggError = OggError::NotOpus("the second packet is not a valid OpusTags");
    if packet.len() < 8 || &packet[..8] != b"OpusTags" {
        return Err(BAD);
    }
    let mut at = 8;
    let u32_at = |at: &mut usize| -> Result<u32, OggError> {
        let bytes = packet.get(*at..*at + 4).ok_or(BAD)?;
        *at += 4;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    };
    let string_at = |at: &mut usize| -> Result<String, OggError> {
        let len = u32_at(at)? as usize;
        let bytes = packet.get(*at..*at + len).ok_or(BAD)?;
        *at += len;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    };
    let vendor = string_at(&mut at)?;
    let count = u32_at(&mut at)?;
    let mut comments = Vec::new();
    for _ in 0..count {
        comments.push(string_at(&mut at)?);
    }
    Ok((vendor, comments))
}

/// Writes an Ogg/Opus stream: headers at creation, then packets, then
/// [`OggOpusWriter::finish`] (which flags the last page end-of-stream).
///
/// Data pages hold about one second of audio each; a page is written out when the next
/// packet would not fit, so the last page is always still open for the end-of-stream flag.
/// The granule position of a page is the number of samples (48 kHz, including the
/// `pre_skip` declared in the head) of every packet completed up to and including it.
#[derive(Debug)]
pub struct OggOpusWriter<W: Write> {
    out: W,
    serial: u32,
    page_seq: u32,
    /// Samples of all packets written so far.
    granule: u64,
    lacing: Vec<u8>,
    body: Vec<u8>,
    /// Granule of the last packet completed on the open page.
    page_granule: Option<u64>,
    /// Whether the open page starts with the rest of a packet from the previous one.
    continued: bool,
    /// Samples in the open page.
    page_samples: u64,
    packets: u64,
}

/// Samples after which a data page is closed (one second).
const PAGE_SAMPLES: u64 = 48_000;

impl<W: Write> OggOpusWriter<W> {
    /// Starts a stream with serial number `serial`: writes the `OpusHead` page (BOS) and the
    /// `OpusTags` page (vendor "voicedesk", no comments). Only mapping family 0 (mono or
    /// stereo) is written; anything else is `InvalidInput`.
    pub fn new(out: W, head: OpusHead, serial: u32) -> io::Result<Self> {
        Self::with_comments(out, head, serial, &[])
    }

    /// As [`OggOpusWriter::new`], with `comments` (`KEY=value`) in the `OpusTags` header. The
    /// header must fit on one page (about 64 KB); longer is `InvalidInput`.
    pub fn with_comments(
        out: W,
        head: OpusHead,
        serial: u32,
        comments: &[String],
    ) -> io::Result<Self> {
        if head.mapping_family != 0 || !(1..=2).contains(&head.channels) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only mono or stereo Opus (channel mapping family 0) can be written",
            ));
        }
        let mut writer = Self {
            out,
            serial,
            page_seq: 0,
            granule: 0,
            lacing: Vec::with_capacity(MAX_SEGMENTS),
            body: Vec::new(),
            page_granule: None,
            continued: false,
            page_samples: 0,
            packets: 0,
        };
        writer.write_page(FLAG_BOS, 0, &[19], &head.to_bytes())?;
        let vendor = b"voicedesk";
        let mut tags = Vec::with_capacity(8 + 4 + vendor.len() + 4);
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&(comments.len() as u32).to_le_bytes());
        for comment in comments {
            tags.extend_from_slice(&(comment.len() as u32).to_le_bytes());
            tags.extend_from_slice(comment.as_bytes());
        }
        if tags.len() / 255 + 1 > MAX_SEGMENTS {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "OpusTags too long"));
        }
        let mut lacing = vec![255u8; tags.len() / 255];
        lacing.push((tags.len() % 255) as u8);
        writer.write_page(0, 0, &lacing, &tags)?;
        Ok(writer)
    }

    /// Appends one Opus packet that decodes to `samples` samples at 48 kHz (use
    /// [`opus_packet_samples`] when unknown).
    pub fn write_packet(&mut self, packet: &[u8], samples: u32) -> io::Result<()> {
        if self.page_samples >= PAGE_SAMPLES {
            self.flush_page(0)?;
        }
        self.granule += u64::from(samples);
        self.page_samples += u64::from(samples);
        self.packets += 1;
        let mut rest = packet;
        let mut spilled = false;
        loop {
            let needed = rest.len() / 255 + 1;
            let room = MAX_SEGMENTS - self.lacing.len();
            if needed <= room {
                self.lacing.extend(std::iter::repeat_n(255, rest.len() / 255));
                self.lacing.push((rest.len() % 255) as u8);
                self.body.extend_from_slice(rest);
                self.page_granule = Some(self.granule);
                return Ok(());
            }
            if room == 0 || (!spilled && !self.lacing.is_empty() && needed <= MAX_SEGMENTS) {
                // The page is full, or the packet fits on a page of its own: do not split it.
                self.flush_page(0)?;
                continue;
            }
            // Larger than a page: fill this one, continue on the next.
            let take = room * 255;
            self.lacing.extend(std::iter::repeat_n(255, room));
            self.body.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            spilled = true;
            self.flush_page(0)?;
            self.continued = true;
        }
    }

    /// Number of packets written.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// Samples (48 kHz) written so far, the granule position the stream will end with.
    pub fn granule_position(&self) -> u64 {
        self.granule
    }

    /// Writes the last page with the end-of-stream flag and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        if self.lacing.is_empty() && self.page_granule.is_none() {
            // Nothing written since the headers: an empty end-of-stream page.
            self.page_granule = Some(self.granule);
        }
        self.flush_page(FLAG_EOS)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_page(&mut self, extra_flags: u8) -> io::Result<()> {
        let flags = extra_flags | if self.continued { FLAG_CONTINUED } else { 0 };
        let granule = self.page_granule.unwrap_or(NO_GRANULE);
        let lacing = std::mem::take(&mut self.lacing);
        let body = std::mem::take(&mut self.body);
        let result = self.write_page(flags, granule, &lacing, &body);
        self.lacing = lacing;
        self.lacing.clear();
        self.body = body;
        self.body.clear();
        self.page_granule = None;
        self.continued = false;
        self.page_samples = 0;
        result
    }

    fn write_page(
        &mut self,
        flags: u8,
        granule: u64,
        lacing: &[u8],
        body: &[u8],
    ) -> io::Result<()> {
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(b"OggS");
        header[5] = flags;
        header[6..14].copy_from_slice(&granule.to_le_bytes());
        header[14..18].copy_from_slice(&self.serial.to_le_bytes());
        header[18..22].copy_from_slice(&self.page_seq.to_le_bytes());
        header[26] = lacing.len() as u8;
        let crc = crc_update(crc_update(crc_update(0, &header), lacing), body);
        header[22..26].copy_from_slice(&crc.to_le_bytes());
        self.page_seq += 1;
        self.out.write_all(&header)?;
        self.out.write_all(lacing)?;
        self.out.write_all(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TUNE: &[u8] = include_bytes!("../assets/hold-tune.opus");

    #[test]
    fn the_crc_is_ogg_crc32() {
        // CRC-32/CKSUM without its final inversion.
        assert_eq!(ogg_crc(b"123456789"), !0x765E_7680);
        assert_eq!(ogg_crc(b""), 0);
    }

    #[test]
    fn the_hold_tune_parses_into_20ms_packets() {
        let tune = parse_ogg_opus(TUNE).unwrap();
        assert_eq!(tune.head.channels, 1);
        assert_eq!(tune.head.input_sample_rate, 48_000);
        assert!(tune.packets.len() >= 1000, "{} packets", tune.packets.len());
        for (i, packet) in tune.packets.iter().enumerate() {
            assert_eq!(opus_packet_samples(packet), Some(960), "packet {i} is not 20 ms");
        }
        assert_eq!(tune.vendor.split(' ').next(), Some("libopus"));
        assert!(tune.comments.iter().any(|c| c == "title=voicedesk hold tune"));
        // The last packet is partly encoder padding: the stream ends before it does.
        let samples = tune.packets.len() as u64 * 960;
        assert!(tune.final_granule <= samples && tune.final_granule > samples - 960);
    }

    #[test]
    fn written_packets_parse_back_identically() {
        let tune = parse_ogg_opus(TUNE).unwrap();
        let mut writer = OggOpusWriter::new(Vec::new(), tune.head, 0xC0FFEE).unwrap();
        for packet in &tune.packets {
            writer.write_packet(packet, 960).unwrap();
        }
        let bytes = writer.finish().unwrap();
        let back = parse_ogg_opus(&bytes).unwrap();
        assert_eq!(back.head, tune.head);
        assert_eq!(back.vendor, "voicedesk");
        assert!(back.comments.is_empty());
        assert_eq!(back.packets, tune.packets);
        assert_eq!(back.final_granule, tune.packets.len() as u64 * 960);
        // The last page, and only it, is flagged end-of-stream.
        let eos_pages =
            page_offsets(&bytes).iter().filter(|&&o| bytes[o + 5] & FLAG_EOS != 0).count();
        assert_eq!(eos_pages, 1);
        let last = *page_offsets(&bytes).last().unwrap();
        assert_ne!(bytes[last + 5] & FLAG_EOS, 0);
    }

    #[test]
    fn packets_spanning_pages_and_odd_sizes_round_trip() {
        let sizes = [0usize, 1, 254, 255, 256, 510, 65_025, 65_024, 70_000, 200_000, 3, 255 * 300];
        let packets: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|b| (b * 7 + i) as u8).collect())
            .collect();
        let mut writer = OggOpusWriter::new(Vec::new(), OpusHead::new(2, 312), 7).unwrap();
        for packet in &packets {
            writer.write_packet(packet, 960).unwrap();
        }
        assert_eq!(writer.packets_written(), packets.len() as u64);
        let bytes = writer.finish().unwrap();
        let back = parse_ogg_opus(&bytes).unwrap();
        assert_eq!(back.packets, packets);
        assert_eq!(back.final_granule, packets.len() as u64 * 960);
    }

    #[test]
    fn only_family_0_mono_or_stereo_is_written() {
        assert!(OggOpusWriter::new(Vec::new(), OpusHead::new(3, 0), 1).is_err());
        let surround = OpusHead { mapping_family: 1, ..OpusHead::new(2, 0) };
        assert!(OggOpusWriter::new(Vec::new(), surround, 1).is_err());
    }

    #[test]
    fn an_empty_stream_is_headers_and_an_eos_page() {
        let bytes =
            OggOpusWriter::new(Vec::new(), OpusHead::new(1, 0), 1).unwrap().finish().unwrap();
        let back = parse_ogg_opus(&bytes).unwrap();
        assert!(back.packets.is_empty());
        assert_eq!(page_offsets(&bytes).len(), 3);
    }

    #[test]
    fn corruption_is_detected() {
        let mut bytes = TUNE.to_vec();
        let n = bytes.len();
        bytes[n / 2] ^= 0x40;
        assert!(matches!(parse_ogg_opus(&bytes), Err(OggError::BadCrc(_))));
        assert_eq!(parse_ogg_opus(&TUNE[..n - 10]), Err(OggError::Truncated));
        assert_eq!(parse_ogg_opus(b"RIFF...."), Err(OggError::Truncated));
        let mut bad = TUNE.to_vec();
        bad[0] = b'X';
        assert_eq!(parse_ogg_opus(&bad), Err(OggError::BadCapture(0)));
    }

    #[test]
    fn toc_durations() {
        assert_eq!(opus_packet_samples(&[]), None);
        assert_eq!(opus_packet_samples(&[(31 << 3)]), Some(960)); // CELT FB 20 ms
        assert_eq!(opus_packet_samples(&[(16 << 3)]), Some(120)); // CELT 2.5 ms
        assert_eq!(opus_packet_samples(&[(1 << 3) | 1]), Some(1920)); // SILK 20 ms ×2
        assert_eq!(opus_packet_samples(&[(3 << 3) | 3, 2]), Some(5760)); // SILK 60 ms ×2
        assert_eq!(opus_packet_samples(&[(3 << 3) | 3, 3]), None); // 180 ms: invalid
        assert_eq!(opus_packet_samples(&[(15 << 3) | 3, 0]), None); // zero frames
    }

    /// When opus-tools / vorbis-tools are installed, `opusinfo` and `ogginfo` accept what the
    /// writer produces (including a packet that spans pages); skipped when they are not.
    #[test]
    fn opusinfo_and_ogginfo_accept_written_streams_when_installed() {
        let tune = parse_ogg_opus(TUNE).unwrap();
        let mut writer = OggOpusWriter::new(Vec::new(), tune.head, 42).unwrap();
        for (i, packet) in tune.packets.iter().enumerate() {
            writer.write_packet(packet, 960).unwrap();
            if i == 600 {
                // Not valid Opus audio, but a valid Ogg packet larger than a page.
                let big = [tune.packets[0].as_slice(), &[0u8; 70_000]].concat();
                writer.write_packet(&big, 960).unwrap();
            }
        }
        let bytes = writer.finish().unwrap();
        let path = std::env::temp_dir().join(format!("voicedesk-ogg-{}.opus", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        for tool in ["opusinfo", "ogginfo"] {
            let Ok(output) = std::process::Command::new(tool).arg(&path).output() else {
                eprintln!("{tool} not installed; skipped");
                continue;
            };
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(output.status.success(), "{tool}: {text}");
            assert!(!text.contains("WARNING") && !text.contains("ERROR"), "{tool}: {text}");
            eprintln!("{tool}: ok");
        }
        let _ = std::fs::remove_file(&path);
    }

    fn page_offsets(bytes: &[u8]) -> Vec<usize> {
        let mut offsets = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            offsets.push(at);
            let segments = bytes[at + 26] as usize;
            let body: usize = bytes[at + 27..at + 27 + segments].iter().map(|&l| l as usize).sum();
            at += 27 + segments + body;
        }
        offsets
    }
}
