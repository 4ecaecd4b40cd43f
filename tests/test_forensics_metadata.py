"""Metadata, JPEG structure, C2PA provenance and video tags on files generated in the test."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from dfd_lib.forensics import JpegAnalysis, MetadataAnalysis, ProvenanceAnalysis, VideoMetaAnalysis, run_all
from dfd_lib.forensics.jpeg import estimate_quality, exif_thumbnail
from dfd_lib.forensics.patterns import digital_source_types
from dfd_lib.forensics.provenance import summarise_manifest_store

skdata = pytest.importorskip("skimage.data")

XMP_AI = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
    'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    'xmp:CreatorTool="ImageMaker 2.1" Iptc4xmpExt:DigitalSourceType='
    '"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
    '<?xpacket end="w"?>'
).encode()


def _picture(size: int = 256) -> Image.Image:
    return Image.fromarray(skdata.astronaut()[:size, :size])


def _jpeg_bytes(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _exif_with_thumbnail(thumb: bytes, software: str = "Camera firmware 1.0") -> bytes:
    """A minimal little-endian EXIF block: IFD0 with Software, IFD1 pointing at a JPEG thumbnail."""
    sw = software.encode() + b"\x00"
    ifd0, sw_off = 8, 8 + 2 + 12 + 4
    ifd1 = sw_off + len(sw)
    thumb_off = ifd1 + 2 + 2 * 12 + 4
    tiff = b"II*\x00" + struct.pack("<I", ifd0)
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x0131, 2, len(sw), sw_off) + struct.pack("<I", ifd1) + sw
    tiff += struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, thumb_off)
    tiff += struct.pack("<HHII", 0x0202, 4, 1, len(thumb)) + struct.pack("<I", 0) + thumb
    return b"Exif\x00\x00" + tiff


# --- metadata --------------------------------------------------------------------------------


def test_photoshop_software_tag_and_contradicting_dates(tmp_path):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 5D Mark IV"
    exif[0x0131] = "Adobe Photoshop 25.0 (Windows)"
    exif[0x0132] = "2024:01:01 10:00:00"  # last change before capture: impossible
    exif.get_ifd(0x8769)[0x9003] = "2024:03:05 09:30:00"
    path = tmp_path / "edited.jpg"
    _picture().save(path, exif=exif, quality=90)

    r = MetadataAnalysis().run(path)
    assert r.status == "ok"
    assert {"editing_software", "date_inconsistency"} <= set(r.flags)
    assert "ai_generator_tag" not in r.flags
    assert r.metrics["make"] == "Canon" and r.metrics["software"].startswith("Adobe Photoshop")
    assert r.metrics["editing_software_matches"][0]["tool"] == "Adobe Photoshop"
    assert "Canon EOS 5D Mark IV" in r.summary and "easy to edit" in r.summary


def test_stable_diffusion_png_parameters_are_flagged(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters", "a cat on a sofa\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Model: sd_xl_base_1.0"
    )
    info.add_text("Software", "Stable Diffusion web UI")
    path = tmp_path / "generated.png"
    _picture(128).save(path, pnginfo=info)

    r = MetadataAnalysis().run(path)
    assert "ai_generator_tag" in r.flags and "editing_software" not in r.flags
    tools = {m["tool"] for m in r.metrics["ai_generator_matches"]}
    assert "Stable Diffusion" in tools and r.metrics["png_text_keys"] == ["Software", "parameters"]


def test_xmp_digital_source_type_trained_algorithmic_media(tmp_path):
    path = tmp_path / "declared.jpg"
    _picture(128).save(path, xmp=XMP_AI)
    r = MetadataAnalysis().run(path)
    assert "ai_digital_source_type" in r.flags
    assert r.metrics["digital_source_types"] == ["trainedAlgorithmicMedia"]
    assert r.metrics["xmp"]["xmp:CreatorTool"] == ["ImageMaker 2.1"]
    assert digital_source_types(
        '"digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"'
    ) == ["digitalCapture"]


def test_plain_file_has_no_metadata_and_no_c2pa_manifest(tmp_path):
    path = tmp_path / "plain.jpg"
    _picture(128).save(path, quality=85)
    by_name = {r.analysis: r for r in run_all(path, names=["metadata", "c2pa"])}
    assert by_name["metadata"].flags == ["no_metadata"]
    c2 = by_name["c2pa"]
    assert c2.status == "ok" and c2.flags == [] and c2.metrics["state"] == "no manifest"
    assert c2.metrics["manifest_present"] is False
    assert "not evidence of manipulation" in c2.summary


def test_gps_position_is_converted_to_degrees(tmp_path):
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 29.0), 3: "W", 4: (2.0, 17.0, 40.0)})
    path = tmp_path / "gps.jpg"
    _picture(64).save(path, exif=exif)
    r = MetadataAnalysis().run(path)
    assert "gps_present" in r.flags
    assert r.metrics["gps"]["latitude"] == pytest.approx(48.858, abs=1e-3)
    assert r.metrics["gps"]["longitude"] == pytest.approx(-2.2944, abs=1e-3)


# --- JPEG structure -------------------------------------------------------------------------


def test_quality_estimate_double_compression_and_not_applicable(tmp_path):
    img = _picture(512)
    single = tmp_path / "single.jpg"
    single.write_bytes(_jpeg_bytes(img, 90))
    double = tmp_path / "double.jpg"
    first = Image.open(io.BytesIO(_jpeg_bytes(img, 60))).convert("RGB")
    double.write_bytes(_jpeg_bytes(first, 90))

    r1, r2 = JpegAnalysis().run(single), JpegAnalysis().run(double)
    assert r1.metrics["estimated_quality"] == 90 and r1.metrics["standard_ijg_tables"]
    assert "double_jpeg" not in r1.flags
    assert "double_jpeg" in r2.flags and r2.metrics["double_compression"]["detected"]
    assert "not that the content changed" in r2.summary
    png = tmp_path / "x.png"
    img.save(png)
    assert JpegAnalysis().run(png).status == "not_applicable"
    q, diff, exact = estimate_quality({0: [3] * 64})
    assert not exact and diff > 0


def test_exif_thumbnail_match_and_mismatch(tmp_path):
    main = skdata.astronaut()
    thumb = _jpeg_bytes(Image.fromarray(main).resize((160, 160)), 85)
    same = tmp_path / "same.jpg"
    Image.fromarray(main).save(same, quality=90, exif=_exif_with_thumbnail(thumb))
    edited = main.copy()
    edited[:, :256] = main[::-1, 256:]  # half the picture replaced after the thumbnail was made
    changed = tmp_path / "changed.jpg"
    Image.fromarray(edited).save(changed, quality=90, exif=_exif_with_thumbnail(thumb))

    assert exif_thumbnail(Image.open(same).info["exif"]) == thumb
    ok, bad = JpegAnalysis().run(same), JpegAnalysis().run(changed)
    assert ok.metrics["thumbnail"]["compared"] and "exif_thumbnail_mismatch" not in ok.flags
    assert "exif_thumbnail_mismatch" in bad.flags
    assert bad.metrics["thumbnail"]["thumbnail_mean_abs_diff"] > ok.metrics["thumbnail"]["thumbnail_mean_abs_diff"]
    assert exif_thumbnail(b"Exif\x00\x00II*\x00\xff\xff\xff\xff") is None  # malformed: no exception


# --- C2PA ----------------------------------------------------------------------------------


def _test_signer():
    """A throw-away CA and ES256 signing certificate (never trusted by anything)."""
    c2pa = pytest.importorskip("c2pa")
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def name(cn):
        return x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dfd tests")]
        )

    def usage(sign, ca):
        return x509.KeyUsage(
            digital_signature=sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    def cert(subject, issuer, public, signing_key, ca):
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(usage(not ca, ca), critical=True)
        )
        if not ca:
            b = (
                b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False
                )
            )
        return b.sign(signing_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = cert(name("dfd test root"), name("dfd test root"), ca_key.public_key(), ca_key, True)
    leaf = cert(name("dfd test signer"), root.subject, key.public_key(), ca_key, False)
    chain = leaf.public_bytes(serialization.Encoding.PEM) + root.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return c2pa, c2pa.Signer.from_info(c2pa.C2paSignerInfo("es256", chain, pem, None))


def test_signed_ai_manifest_is_read_and_tampering_is_detected(tmp_path):
    c2pa, signer = _test_signer()
    manifest = {
        "claim_generator_info": [{"name": "dfd-test-generator", "version": "1.0"}],
        "title": "generated.jpg",
        "format": "image/jpeg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "softwareAgent": {"name": "Test Diffusion"},
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                        }
                    ]
                },
            }
        ],
    }
    signed = tmp_path / "signed.jpg"
    with c2pa.Builder(json.dumps(manifest)) as builder, open(signed, "wb") as dest:
        builder.sign(signer, "image/jpeg", io.BytesIO(_jpeg_bytes(_picture(128), 90)), dest)

    r = ProvenanceAnalysis().run(signed)
    assert r.status == "ok"
    assert {"c2pa_manifest", "c2pa_ai_action", "c2pa_untrusted_signer"} <= set(r.flags)
    assert "c2pa_invalid" not in r.flags
    m = r.metrics
    assert m["state"] == "valid" and m["signer"] == "dfd test signer"
    assert m["claim_generator"].startswith("dfd-test-generator")
    assert m["actions"][0] == {
        "action": "c2pa.created",
        "digital_source_type": "trainedAlgorithmicMedia",
        "software_agent": "Test Diffusion",
        "when": None,
    }
    assert "not evidence of manipulation" in r.summary

    data = bytearray(signed.read_bytes())
    data[-200] ^= 0xFF  # change pixel data after signing
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    t = ProvenanceAnalysis().run(tampered)
    assert t.metrics["state"] == "invalid" and "c2pa_invalid" in t.flags
    assert any("dataHash" in c for c in t.metrics["validation_failures"])


def test_manifest_summary_from_a_plain_store_dict():
    store = {
        "active_manifest": "m2",
        "validation_state": "Trusted",
        "manifests": {
            "m1": {
                "assertions": [
                    {
                        "label": "c2pa.actions",
                        "data": {
                            "actions": [
                                {
                                    "action": "c2pa.created",
                                    "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
                                }
                            ]
                        },
                    }
                ]
            },
            "m2": {
                "claim_generator": "Editor/3.0",
                "signature_info": {"issuer": "Example Inc."},
                "ingredients": [{}],
                "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.edited"}]}}],
            },
        },
    }
    f = summarise_manifest_store(store)
    assert f["state"] == "trusted" and f["signer"] == "Example Inc." and f["ingredient_count"] == 1
    assert f["actions"] == [
        {"action": "c2pa.edited", "digital_source_type": None, "software_agent": None, "when": None}
    ]
    assert f["earlier_manifest_actions"]["m1"][0]["digital_source_type"] == "digitalCapture"
    assert not f["untrusted_signer"] and f["validation_failures"] == []


def test_unreadable_asset_gives_an_error_not_a_crash(tmp_path):
    path = tmp_path / "cut.jpg"
    path.write_bytes(_jpeg_bytes(_picture(128), 90)[:300])
    r = ProvenanceAnalysis().run(path)
    assert r.status in ("ok", "error") and r.summary
    bmp = tmp_path / "x.bmp"
    _picture(64).save(bmp)
    assert ProvenanceAnalysis().run(bmp).status == "not_applicable"


# --- video -----------------------------------------------------------------------------------


def test_video_container_metadata(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        container.metadata["creation_time"] = "2024-05-01T12:00:00.000000Z"
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)

    by_name = {r.analysis: r for r in run_all(path)}
    v = by_name["video_meta"]
    assert v.status == "ok" and "reencoding_hint" in v.flags  # written by FFmpeg's libavformat
    assert v.metrics["streams"][0]["codec"] == "mpeg4" and v.analysed_size == (64, 48)
    assert v.metrics["encoder"].startswith("Lavf") and "not the camera original" in v.summary
    assert by_name["ela"].status == "not_applicable" and by_name["metadata"].status == "not_applicable"
    assert by_name["c2pa"].metrics["state"] == "no manifest"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(path.read_bytes()[:40])
    assert VideoMetaAnalysis().run(broken).status == "error"


def _with_app1_segments(jpeg: bytes, payload: bytes) -> bytes:
    """Insert ``payload`` after SOI as a run of APP1 segments (each at most 65533 bytes)."""
    segments = b"".join(
        b"\xff\xe1" + struct.pack(">H", len(payload[i : i + 65000]) + 2) + payload[i : i + 65000]
        for i in range(0, len(payload), 65000)
    )
    return jpeg[:2] + segments + jpeg[2:]


def test_hostile_xmp_packet_is_read_in_linear_time(tmp_path):
    import time

    body = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'  # a closed packet full of unclosed elements
        + b"<xmp:CreatorTool>" * 40_000
        + b'<xmp:ModifyDate a="'
        + b"<dc:description>" * 20_000
        + b"<rdf:li " * 40_000
        + b"</x:xmpmeta>"
    )
    hostile = body + b"<x:xmpmeta" * 300_000  # ~4 MB of packet starts that never close
    path = tmp_path / "hostile.jpg"
    path.write_bytes(_with_app1_segments(_jpeg_bytes(_picture(128), 90), XMP_AI + hostile))
    assert path.stat().st_size > 3_000_000
    t0 = time.monotonic()
    r = MetadataAnalysis().run(path)
    assert time.monotonic() - t0 < 5.0
    assert r.status == "ok"  # the honest packet before the hostile data is still read
    assert r.metrics["xmp"]["xmp:CreatorTool"] == ["ImageMaker 2.1"]
    assert r.metrics["digital_source_types"] == ["trainedAlgorithmicMedia"]
