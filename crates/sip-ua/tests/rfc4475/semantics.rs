//! §3.2 transaction layer, §3.3 application layer and §3.4 RFC 2543 compatibility: messages
//! that parse, where the torture is in what a user agent does with them.

use super::{feed, sdp};

/// 3.2.1 Missing Transaction Identifier: a branch of just the magic cookie is still a branch.
#[test]
fn badbranch() {
    let m = "OPTIONS sip:user@example.com SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.org;tag=33242\r\nMax-Forwards: 3\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\r\nAccept: application/sdp\r\nCall-ID: badbranch.sadonfo23i420jv0as0derf3j3n\r\nCSeq: 8 OPTIONS\r\nl: 0\r\n\r\n";
    assert_eq!(feed(m.as_bytes()).statuses(), [200]);
}

/// 3.3.1 Missing Required Header Fields: no To, From, Call-ID or Max-Forwards. Without them
/// no conforming response can be built, so it is dropped (and logged).
#[test]
fn insuf() {
    let m = format!(
        "INVITE sip:user@example.com SIP/2.0\r\nCSeq: 193942 INVITE\r\nVia: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\r\nContent-Type: application/sdp\r\nl: 152\r\n\r\n{}",
        sdp("192.0.2.95")
    );
    let out = feed(m.as_bytes());
    assert!(out.sent.is_empty(), "{:?}", out.sent);
    assert_eq!(out.incoming, 0);
}

/// 3.3.2 and 3.3.3: Request-URI schemes we do not serve get 416.
#[test]
fn unkscm_and_novelsc_get_416() {
    for (uri, call_id) in [
        (
            "nobodyKnowsThisScheme:totallyopaquecontent",
            "unkscm.nasdfasser0q239nwsdfasdkl34",
        ),
        (
            "soap.beep://192.0.2.103:3002",
            "novelsc.asdfasser0q239nwsdfasdkl34",
        ),
    ] {
        let m = format!(
            "OPTIONS {uri} SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=384\r\nMax-Forwards: 3\r\nCall-ID: {call_id}\r\nCSeq: 3923423 OPTIONS\r\nVia: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\r\nContent-Length: 0\r\n\r\n"
        );
        assert_eq!(feed(m.as_bytes()).statuses(), [416], "{uri}");
    }
}

/// 3.3.4 Unknown URI Schemes in Header Fields, and 3.3.7, 3.3.12–3.3.14: REGISTERs with an
/// unknown Authorization scheme, Contact parameters and escaped headers. We are no registrar:
/// each gets 405 with Allow, whatever its header fields carry.
#[test]
fn registers_get_405() {
    let cases = [
        "REGISTER sip:example.com SIP/2.0\r\nTo: isbn:2983792873\r\nFrom: <http://www.example.com>;tag=3234233\r\nCall-ID: unksm2.daksdj@hyphenated-host.example.com\r\nCSeq: 234902 REGISTER\r\nMax-Forwards: 70\r\nVia: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw\r\nContact: <name:John_Smith>\r\nl: 0\r\n\r\n",
        "REGISTER sip:example.com SIP/2.0\r\nTo: sip:j.user@example.com\r\nFrom: sip:j.user@example.com;tag=87321hj23128\r\nMax-Forwards: 8\r\nCall-ID: regaut01.0ha0isndaksdj\r\nCSeq: 9338 REGISTER\r\nVia: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw\r\nAuthorization: NoOneKnowsThisScheme opaque-data=here\r\nContent-Length:0\r\n\r\n",
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\r\nMax-Forwards: 70\r\nFrom: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe\r\nTo: sip:watson@example.com\r\nCall-ID: cparam01.70710@saturn.example.com\r\nCSeq: 2 REGISTER\r\nContact: sip:+19725552222@gw1.example.net;unknownparam\r\nl: 0\r\n\r\n",
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\r\nMax-Forwards: 70\r\nFrom: sip:watson@example.com;tag=838293\r\nTo: sip:watson@example.com\r\nCall-ID: cparam02.70710@saturn.example.com\r\nCSeq: 3 REGISTER\r\nContact: <sip:+19725552222@gw1.example.net;unknownparam>\r\nl: 0\r\n\r\n",
        "REGISTER sip:example.com SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:user@example.com;tag=8\r\nMax-Forwards: 70\r\nCall-ID: regescrt.k345asrl3fdbv@192.0.2.1\r\nCSeq: 14398234 REGISTER\r\nVia: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\r\nM: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>\r\nL:0\r\n\r\n",
    ];
    for m in cases {
        let out = feed(m.as_bytes());
        assert_eq!(out.statuses(), [405], "{:?}", out.sent);
        assert!(out.header("Allow").is_some());
    }
}

/// 3.3.5 Proxy-Require and Require: 420 listing what we do not support (a UAS ignores
/// Proxy-Require).
#[test]
fn bext01_gets_420() {
    let m = "OPTIONS sip:user@example.com SIP/2.0\r\nTo: sip:j_user@example.com\r\nFrom: sip:caller@example.net;tag=242etr\r\nMax-Forwards: 6\r\nCall-ID: bext01.0ha0isndaksdj\r\nRequire: nothingSupportsThis, nothingSupportsThisEither\r\nProxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis\r\nCSeq: 8 OPTIONS\r\nVia: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw\r\nContent-Length: 0\r\n\r\n";
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [420], "{:?}", out.sent);
    assert_eq!(
        out.header("Unsupported").as_deref(),
        Some("nothingSupportsThis, nothingSupportsThisEither")
    );
}

/// 3.3.6 Unknown Content-Type: 415 with the types we take.
#[test]
fn invut_gets_415() {
    let m = "INVITE sip:user@example.com SIP/2.0\r\nContact: <sip:caller@host5.example.net>\r\nTo: sip:j.user@example.com\r\nFrom: sip:caller@example.net;tag=8392034\r\nMax-Forwards: 70\r\nCall-ID: invut.0ha0isndaksdjadsfij34n23d\r\nCSeq: 235448 INVITE\r\nVia: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw\r\nContent-Type: application/unknownformat\r\nContent-Length: 40\r\n\r\n<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n";
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [100, 415], "{:?}", out.sent);
    assert_eq!(out.header("Accept").as_deref(), Some("application/sdp"));
    assert_eq!(out.incoming, 0);
}

/// 3.3.8 and 3.3.9: repeated single-value header fields and repeated Content-Length: 400.
#[test]
fn multi01_and_mcl01_get_400() {
    let multi01 = format!(
        "INVITE sip:user@company.com SIP/2.0\r\nContact: <sip:caller@host25.example.net>\r\nVia: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\r\nMax-Forwards: 70\r\nCSeq: 5 INVITE\r\nCall-ID: multi01.98asdh@192.0.2.1\r\nCSeq: 59 INVITE\r\nCall-ID: multi01.98asdh@192.0.2.2\r\nFrom: sip:caller@example.com;tag=3413415\r\nTo: sip:user@example.com\r\nTo: sip:other@example.net\r\nFrom: sip:caller@example.net;tag=2923420123\r\nContent-Type: application/sdp\r\nl: 154\r\nContact: <sip:caller@host36.example.net>\r\nMax-Forwards: 5\r\n\r\n{}",
        sdp("192.0.2.25")
    );
    let mcl01 = "OPTIONS sip:user@example.com SIP/2.0\r\nVia: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\r\nTo: sip:user@example.com\r\nFrom: sip:other@example.net;tag=3923942\r\nCall-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\r\nCSeq: 15932 OPTIONS\r\nContent-Length: 13\r\nMax-Forwards: 60\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nThere's no way to know how many octets are supposed to be here.\r\n";
    for (name, m) in [("multi01", multi01.as_str()), ("mcl01", mcl01)] {
        let out = feed(m.as_bytes());
        assert_eq!(out.statuses(), [400], "{name}: {:?}", out.sent);
        assert_eq!(out.incoming, 0);
    }
}

/// 3.3.10 200 OK Response with Broadcast Via Header Field Value: matches no transaction,
/// dropped; nothing is sent to 255.255.255.255.
#[test]
fn bcast_is_dropped() {
    let m = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\r\nVia: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\r\nCall-ID: bcast.0384840201234ksdfak3j2erwedfsASdf\r\nCSeq: 35 INVITE\r\nFrom: sip:user@example.com;tag=11141343\r\nTo: sip:user@example.edu;tag=2229\r\nContent-Length: 154\r\nContent-Type: application/sdp\r\nContact: <sip:user@host28.example.com>\r\n\r\n{}",
        sdp("192.0.2.198")
    );
    assert!(feed(m.as_bytes()).sent.is_empty());
}

/// 3.3.11 Max-Forwards of Zero: we are the UAS the request is for, so it is answered (a proxy
/// would send 483).
#[test]
fn zeromf_is_answered() {
    let m = "OPTIONS sip:user@example.com SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=3ghsd41\r\nCall-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas\r\nCSeq: 39234321 OPTIONS\r\nVia: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(feed(m.as_bytes()).statuses(), [200]);
}

/// 3.3.15 Unacceptable Accept Offering: the answer would be SDP, which the caller says it
/// cannot take: 406.
#[test]
fn sdp01_gets_406() {
    let m = format!(
        "INVITE sip:user@example.com SIP/2.0\r\nTo: sip:j_user@example.com\r\nContact: <sip:caller@host15.example.net>\r\nFrom: sip:caller@example.net;tag=234\r\nMax-Forwards: 5\r\nCall-ID: sdp01.ndaksdj9342dasdd\r\nAccept: text/nobodyKnowsThis\r\nCSeq: 8 INVITE\r\nVia: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw\r\nContent-Length: 150\r\nContent-Type: application/sdp\r\n\r\n{}",
        sdp("192.0.2.5")
    );
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [100, 406], "{:?}", out.sent);
    assert_eq!(out.incoming, 0);
}

/// 3.4.1 INVITE with RFC 2543 Syntax: no branch, no Max-Forwards, no Content-Length (on UDP
/// the body runs to the end of the datagram), From without tag. Still a call.
#[test]
fn inv2543_is_a_call() {
    let m = "INVITE sip:UserB@example.com SIP/2.0\r\nVia: SIP/2.0/UDP iftgw.example.com\r\nFrom: <sip:+13035551111@ift.client.example.net;user=phone>\r\nRecord-Route: <sip:UserB@example.com;maddr=ss1.example.com>\r\nTo: sip:+16505552222@ss1.example.net;user=phone\r\nCall-ID: inv2543.1717@ift.client.example.com\r\nCSeq: 56 INVITE\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0\r\n";
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [100], "{:?}", out.sent);
    assert_eq!(out.incoming, 1);
}
