//! §3.1.2 Invalid Messages: each is refused (400, or the code the RFC names) or dropped; none
//! becomes a call.

use super::{Outcome, feed, sdp, sdp_at};

/// Feeds `m` and checks that no call came of it.
fn refused(name: &str, m: &str) -> Outcome {
    let out = feed(m.as_bytes());
    assert_eq!(out.incoming, 0, "{name} became a call");
    out
}

#[test]
fn requests_with_broken_syntax_get_400() {
    let cases: [(&str, String); 12] = [
        ("badinv01 (3.1.2.1)", format!("INVITE sip:user@example.com SIP/2.0\r\nTo: sip:j.user@example.com\r\nFrom: sip:caller@example.net;tag=134161461246\r\nMax-Forwards: 7\r\nCall-ID: badinv01.0ha0isndaksdjasdf3234nas\r\nCSeq: 8 INVITE\r\nVia: SIP/2.0/UDP 192.0.2.15;;,;,,\r\nContact: \"Joe\" <sip:joe@example.org>;;;;\r\nContent-Length: 152\r\nContent-Type: application/sdp\r\n\r\n{}", sdp("192.0.2.15"))),
        ("clerr (3.1.2.2)", format!("INVITE sip:user@example.com SIP/2.0\r\nMax-Forwards: 80\r\nTo: sip:j.user@example.com\r\nFrom: sip:caller@example.net;tag=93942939o2\r\nContact: <sip:caller@hungry.example.net>\r\nCall-ID: clerr.0ha0isndaksdjweiafasdk3\r\nCSeq: 8 INVITE\r\nVia: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\r\nContent-Type: application/sdp\r\nContent-Length: 9999\r\n\r\n{}", sdp("192.0.2.155"))),
        ("ncl (3.1.2.3)", format!("INVITE sip:user@example.com SIP/2.0\r\nMax-Forwards: 254\r\nTo: sip:j.user@example.com\r\nFrom: sip:caller@example.net;tag=32394234\r\nCall-ID: ncl.0ha0isndaksdj2193423r542w35\r\nCSeq: 0 INVITE\r\nVia: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw\r\nContact: <sip:caller@example53.example.net>\r\nContent-Type: application/sdp\r\nContent-Length: -999\r\n\r\n{}", sdp("192.0.2.53"))),
        ("scalar02 (3.1.2.4)", format!("REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\r\nTo: <sip:user@example.com>\r\nFrom: <sip:user@example.com>;tag=239232jh3\r\nCSeq: 36893488147419103232 REGISTER\r\nCall-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\r\nMax-Forwards: 300\r\nExpires: 1{}\r\nContact: <sip:user@host129.example.com>\r\n  ;expires=280297596632815\r\nContent-Length: 0\r\n\r\n", "0".repeat(100))),
        ("quotbal (3.1.2.6)", format!("INVITE sip:user@example.com SIP/2.0\r\nTo: \"Mr. J. User <sip:j.user@example.com>\r\nFrom: sip:caller@example.net;tag=93334\r\nMax-Forwards: 10\r\nCall-ID: quotbal.aksdj\r\nContact: <sip:caller@host59.example.net>\r\nCSeq: 8 INVITE\r\nVia: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\r\nContent-Type: application/sdp\r\nContent-Length: 152\r\n\r\n{}", sdp("192.0.2.15"))),
        ("ltgtruri (3.1.2.7)", format!("INVITE <sip:user@example.com> SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=39291\r\nMax-Forwards: 23\r\nCall-ID: ltgtruri.1@192.0.2.5\r\nCSeq: 1 INVITE\r\nVia: SIP/2.0/UDP 192.0.2.5\r\nContact: <sip:caller@host5.example.net>\r\nContent-Type: application/sdp\r\nContent-Length: 159\r\n\r\n{}", sdp_at("192.0.2.5", "192.0.2.5", "3149328700"))),
        ("lwsruri (3.1.2.8)", format!("INVITE sip:user@example.com; lr SIP/2.0\r\nTo: sip:user@example.com;tag=3xfe-9921883-z9f\r\nFrom: sip:caller@example.net;tag=231413434\r\nMax-Forwards: 5\r\nCall-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\r\nCSeq: 2130706432 INVITE\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\r\nContact: <sip:caller@host1.example.net>\r\nContent-Type: application/sdp\r\nContent-Length: 159\r\n\r\n{}", sdp_at("192.0.2.1", "192.0.2.1", "3149328700"))),
        ("lwsstart (3.1.2.9)", format!("INVITE  sip:user@example.com  SIP/2.0\r\nMax-Forwards: 8\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=8814\r\nCall-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\r\nCSeq: 1893884 INVITE\r\nVia: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\r\nContact: <sip:caller@host1.example.net>\r\nContent-Type: application/sdp\r\nContent-Length: 150\r\n\r\n{}", sdp("192.0.2.1"))),
        ("trws (3.1.2.10)", "OPTIONS sip:remote-target@example.com SIP/2.0  \r\nVia: SIP/2.0/TCP host1.examle.com;branch=z9hG4bK299342093\r\nTo: <sip:remote-target@example.com>\r\nFrom: <sip:local-resource@example.com>;tag=329429089\r\nCall-ID: trws.oicu34958239neffasdhr2345r\r\nAccept: application/sdp\r\nCSeq: 238923 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n".into()),
        ("escruri (3.1.2.11)", format!("INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=341518\r\nMax-Forwards: 7\r\nContact: <sip:caller@host39923.example.net>\r\nCall-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5\r\nCSeq: 149209342 INVITE\r\nVia: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw\r\nContent-Type: application/sdp\r\nContent-Length: 150\r\n\r\n{}", sdp("192.0.2.1"))),
        ("mismatch01 (3.1.2.17)", "OPTIONS sip:user@example.com SIP/2.0\r\nTo: sip:j.user@example.com\r\nFrom: sip:caller@example.net;tag=34525\r\nMax-Forwards: 6\r\nCall-ID: mismatch01.dj0234sxdfl3\r\nCSeq: 8 INVITE\r\nVia: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\r\nl: 0\r\n\r\n".into()),
        ("truncated body (ours)", "INVITE sip:user@example.com SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=1\r\nCall-ID: t\r\nCSeq: 1 INVITE\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt\r\nContent-Type: application/sdp\r\nContent-Length: 150\r\n\r\nv=0\r\n".into()),
    ];
    for (name, m) in cases {
        let out = refused(name, &m);
        assert_eq!(out.statuses(), [400], "{name}: {:?}", out.sent);
        assert!(out.header("Warning").is_some(), "{name}: no Warning");
    }
}

/// 3.1.2.5 and 3.1.2.19: responses with overlarge numbers belong to no transaction of ours.
#[test]
fn scalarlg_and_bigcode_are_dropped() {
    let scalarlg = "SIP/2.0 503 Service Unavailable\r\nVia: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\r\nTo: <sip:user@example.com>\r\nFrom: <sip:other@example.net>;tag=2easdjfejw\r\nCSeq: 9292394834772304023312 OPTIONS\r\nCall-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\r\nRetry-After: 949302838503028349304023988\r\nWarning: 1812 overture \"In Progress\"\r\nContent-Length: 0\r\n\r\n";
    let bigcode = "SIP/2.0 4294967301 better not break the receiver\r\nVia: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\nCall-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\r\nCSeq: 353494 INVITE\r\nFrom: <sip:user@example.com>;tag=39ansfi3\r\nTo: <sip:user@example.edu>;tag=902jndnke3\r\nContent-Length: 0\r\nContact: <sip:user@host105.example.com>\r\n\r\n";
    assert!(refused("scalarlg", scalarlg).sent.is_empty());
    assert!(refused("bigcode", bigcode).sent.is_empty());
}

/// 3.1.2.12 Invalid Time Zone in Date Header Field: the RFC asks that the request be processed
/// anyway (Date is informational), so it is a call.
#[test]
fn baddate_is_still_a_call() {
    let m = format!(
        "INVITE sip:user@example.com SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=2234923\r\nMax-Forwards: 70\r\nCall-ID: baddate.239423mnsadf3j23lj42--sedfnm234\r\nCSeq: 1392934 INVITE\r\nVia: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\r\nDate: Fri, 01 Jan 2010 16:00:00 EST\r\nContact: <sip:caller@host5.example.net>\r\nContent-Type: application/sdp\r\nContent-Length: 150\r\n\r\n{}",
        sdp("192.0.2.5")
    );
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [100], "{:?}", out.sent);
    assert_eq!(out.incoming, 1);
}

/// 3.1.2.13–3.1.2.15: a REGISTER whose Contact has an unbracketed URI with headers, spaces
/// inside `< >`, and an unquoted display name with a comma. A tolerant UAS may still serve
/// them; what matters is a response and no call.
#[test]
fn regbadct_badaspec_baddn() {
    let regbadct = "REGISTER sip:example.com SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:user@example.com;tag=998332\r\nMax-Forwards: 70\r\nCall-ID: regbadct.k345asrl3fdbv@10.0.0.1\r\nCSeq: 1 REGISTER\r\nVia: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw\r\nContact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\r\nl: 0\r\n\r\n";
    let badaspec = "OPTIONS sip:user@example.org SIP/2.0\r\nVia: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\r\nMax-Forwards: 70\r\nFrom: \"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=433423\r\nTo: \"Watson, Thomas\" < sip:t.watson@example.org >\r\nCall-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\r\nAccept: application/sdp\r\nCSeq: 3923239 OPTIONS\r\nl: 0\r\n\r\n";
    let baddn = "OPTIONS sip:t.watson@example.org SIP/2.0\r\nVia:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\r\nMax-Forwards:      70\r\nFrom:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\r\nTo:      Watson, Thomas <sip:t.watson@example.org>\r\nCall-ID: baddn.31415@c.example.com\r\nAccept: application/sdp\r\nCSeq:    3923239 OPTIONS\r\nl: 0\r\n\r\n";
    let out = refused("regbadct", regbadct);
    assert!(
        matches!(out.statuses()[..], [400] | [405]),
        "{:?}",
        out.sent
    );
    for (name, m) in [("badaspec", badaspec), ("baddn", baddn)] {
        let out = refused(name, m);
        assert!(
            matches!(out.statuses()[..], [400] | [200]),
            "{name}: {:?}",
            out.sent
        );
    }
}

/// 3.1.2.16 Unknown Protocol Version: 505.
#[test]
fn badvers_gets_505() {
    let m = "OPTIONS sip:t.watson@example.org SIP/7.0\r\nVia:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\r\nMax-Forwards:     70\r\nFrom:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\r\nTo:      T. Watson <sip:t.watson@example.org>\r\nCall-ID: badvers.31417@c.example.com\r\nCSeq:    1 OPTIONS\r\nl: 0\r\n\r\n";
    let out = refused("badvers", m);
    assert_eq!(out.statuses(), [505], "{:?}", out.sent);
}

/// 3.1.2.18 Unknown Method with CSeq Method Mismatch: 501 (the RFC's first choice; 400 would do).
#[test]
fn mismatch02_gets_501() {
    let m = "NEWMETHOD sip:user@example.com SIP/2.0\r\nTo: sip:j.user@example.com\r\nFrom: sip:caller@example.net;tag=34525\r\nMax-Forwards: 6\r\nCall-ID: mismatch02.dj0234sxdfl3\r\nCSeq: 8 INVITE\r\nContact: <sip:caller@host.example.net>\r\nVia: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\r\nContent-Type: application/sdp\r\nl: 138\r\n\r\nv=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n";
    let out = refused("mismatch02", m);
    assert_eq!(out.statuses(), [501], "{:?}", out.sent);
}
