use super::{feed, sdp, sdp_at};

/// 3.1.1.1 A Short Tortuous INVITE: folding, LWS, compact forms, unknown headers. It carries a
/// To tag, so for us it is a re-INVITE for an unknown dialog: 481.
#[test]
fn wsinv() {
    let m = format!(
        "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n\
         TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n\
         from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8\r\n\
         MaX-fOrWaRdS: 0068\r\n\
         Call-ID: wsinv.ndaksdj@192.0.2.1\r\n\
         Content-Length   : 150\r\n\
         cseq: 0009\r\n  INVITE\r\n\
         Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\n\
         s :\r\n\
         NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n\
         UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n\
         Content-Type: application/sdp\r\n\
         Route:\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n\
         v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n \
         SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\n\
         m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  \
         secondparam ; q = 0.33\r\n\r\n{}",
        sdp_at("192.0.2.3", "192.0.2.4", "0")
    );
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [481], "{:?}", out.sent);
}

/// 3.1.1.2 Wide Range of Valid Characters: an unknown method gets 501.
#[test]
fn intmeth() {
    let m = "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r\n\
        Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n\
        To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\r\n\
        From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}\";tag=_token~1'+`*%!-.\r\n\
        Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\n\
        CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n\
        Max-Forwards: 255\r\n\
        extensionHeader-!.%*+_`'~:\u{feff}\u{5927}\u{505c}\u{96fb}\r\n\
        Content-Length: 0\r\n\r\n";
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [501], "{:?}", out.sent);
}

/// 3.1.1.6 Message with No LWS between Display Name and <
#[test]
fn lwsdisp() {
    let m = "OPTIONS sip:user@example.com SIP/2.0\r\nTo: sip:user@example.com\r\n\
        From: caller<sip:caller@example.com>;tag=323\r\nMax-Forwards: 70\r\n\
        Call-ID: lwsdisp.1234abcd@funky.example.com\r\nCSeq: 60 OPTIONS\r\n\
        Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\r\nl: 0\r\n\r\n";
    assert_eq!(feed(m.as_bytes()).statuses(), [200]);
}

/// 3.1.1.7 Long Values in Header Fields: 34 Vias (the first without branch), long everything.
#[test]
fn longreq() {
    let mut m = String::from("INVITE sip:user@example.com SIP/2.0\r\n");
    m += &format!(
        "To: \"I have a user name of {} proportion\"<sip:user@example.com:6000;unknownparam1=very{}value;longparam{}=shortvalue;very{}ParameterNameWithNoValue>\r\n",
        "extreme".repeat(10),
        "long".repeat(20),
        "name".repeat(25),
        "long".repeat(25)
    );
    m += &format!(
        "F: sip:{}@example.net;tag=12{}424;unknownheaderparam{}=unknowheaderparam{};unknownValueless{}\r\n",
        "amazinglylongcallername".repeat(5),
        "982".repeat(50),
        "name".repeat(20),
        "value".repeat(15),
        "paramname".repeat(10)
    );
    m += &format!(
        "Call-ID: longreq.one{}longcallid\r\nCSeq: 3882340 INVITE\r\n",
        "really".repeat(20)
    );
    m += &format!(
        "Unknown-{0}-Name:unknown-{0}-value;unknown-{0}-parameter-name =unknown-{0}-parameter-value\r\n",
        "Long".repeat(20)
    );
    for (i, name) in [
        "Via", "v", "V", "Via", "ViA", "VIa", "VIA", "via", "viA", "vIa", "vIA", "V ", "v ", "V  ",
        "v  ", "Via ", "Via  ",
    ]
    .iter()
    .enumerate()
    {
        m += &format!("{name}: SIP/2.0/TCP sip{}.example.com\r\n", 33 - i);
    }
    for i in (1..=16).rev() {
        m += &format!("Via: SIP/2.0/TCP sip{i}.example.com\r\n");
    }
    m += &format!(
        "Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very{}branchvalue\r\n",
        "long".repeat(50)
    );
    m += &format!(
        "Max-Forwards: 70\r\nContact: <sip:{}@host5.example.net>\r\nContent-Type: application/sdp\r\nl: 150\r\n\r\n{}",
        "amazinglylongcallername".repeat(5),
        sdp_at("192.0.2.3", "192.0.2.4", "0")
    );
    let out = feed(m.as_bytes());
    // A new call: 100 Trying, copying all 34 Vias, and the call offered to the application.
    assert_eq!(out.statuses(), [100], "{:?}", out.sent);
    assert_eq!(out.sent[0].matches("\r\nVia: ").count(), 34);
    assert_eq!(out.incoming, 1);
}

/// 3.1.1.9 Semicolon-Separated Parameters in URI User Part (and a folded Accept).
#[test]
fn semiuri() {
    let m = "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\r\nTo: sip:j_user@example.com\r\n\
        From: sip:caller@example.org;tag=33242\r\nMax-Forwards: 3\r\nCall-ID: semiuri.0ha0isndaksdj\r\n\
        CSeq: 8 OPTIONS\r\nAccept: application/sdp, application/pkcs7-mime,\r\n        multipart/mixed, multipart/signed,\r\n\
        \x20       message/sip, message/sipfrag\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\r\nl: 0\r\n\r\n";
    assert_eq!(feed(m.as_bytes()).statuses(), [200]);
}

/// 3.1.1.12 / 3.1.1.13 Unusual and empty reason phrases: responses to nothing of ours, dropped.
#[test]
fn unreason_and_noreason() {
    let unreason = "SIP/2.0 200 = 2**3 * 5**2 \u{43d}\u{43e} \u{441}\u{442}\u{43e} \u{434}\u{435}\u{432}\u{44f}\u{43d}\u{43e}\u{441}\u{442}\u{43e} \u{434}\u{435}\u{432}\u{44f}\u{442}\u{44c} - \u{43f}\u{440}\u{43e}\u{441}\u{442}\u{43e}\u{435}\r\n\
        Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\r\nCall-ID: unreason.1234ksdfak3j2erwedfsASdf\r\n\
        CSeq: 35 INVITE\r\nFrom: sip:user@example.com;tag=11141343\r\nTo: sip:user@example.edu;tag=2229\r\n\
        Content-Length: 0\r\nContact: <sip:user@host198.example.com>\r\n\r\n";
    let noreason = "SIP/2.0 100 \r\nVia: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n\
        Call-ID: noreason.asndj203insdf99223ndf\r\nCSeq: 35 INVITE\r\nFrom: <sip:user@example.com>;tag=39ansfi3\r\n\
        To: <sip:user@example.edu>;tag=902jndnke3\r\nContent-Length: 0\r\nContact: <sip:user@host105.example.com>\r\n\r\n";
    assert!(feed(unreason.as_bytes()).sent.is_empty());
    assert!(feed(noreason.as_bytes()).sent.is_empty());
}

/// 3.1.1.3 Valid Use of the % Escaping Mechanism: a new call (its SDP's video line carries
/// `a=rtpmap:31 LPC` without a clock rate; the audio line is what we answer).
#[test]
fn esc01() {
    let m = format!(
        "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\r\n\
         To: sip:%75se%72@example.com\r\n\
         From: <sip:I%20have%20spaces@example.net>;tag=938\r\n\
         Max-Forwards: 87\r\n\
         i: esc01.239409asdfakjkn23onasd0-3234\r\n\
         CSeq: 234234 INVITE\r\n\
         Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\r\n\
         C: application/sdp\r\n\
         Contact:\r\n  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\r\n\
         Content-Length: 150\r\n\r\n{}",
        sdp("192.0.2.1")
    );
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [100], "{:?}", out.sent);
    assert_eq!(out.incoming, 1);
}

/// 3.1.1.4 Escaped Nulls in URIs: a REGISTER, which a UAS that is no registrar refuses with
/// 405 and its Allow list.
#[test]
fn escnull() {
    let m = "REGISTER sip:example.com SIP/2.0\r\nTo: sip:null-%00-null@example.com\r\n\
        From: sip:null-%00-null@example.com;tag=839923423\r\nMax-Forwards: 70\r\n\
        Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\r\nCSeq: 14398234 REGISTER\r\n\
        Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\r\n\
        Contact: <sip:%00@host5.example.com>\r\nContact: <sip:%00%00@host5.example.com>\r\n\
        L:0\r\n\r\n";
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [405], "{:?}", out.sent);
    assert!(out.header("Allow").is_some_and(|a| a.contains("INVITE")));
}

/// 3.1.1.5 Use of % When It Is Not an Escape: `RE%47IST%45R` is a method of its own (not
/// REGISTER), so 501; `C%6Fntact` is an unknown header.
#[test]
fn esc02() {
    let m = "RE%47IST%45R sip:registrar.example.com SIP/2.0\r\n\
        To: \"%Z%45\" <sip:resource@example.com>\r\n\
        From: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23\r\n\
        Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\r\n\
        Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234\r\n\
        CSeq: 29344 RE%47IST%45R\r\nMax-Forwards: 70\r\n\
        Contact: <sip:alias1@host1.example.com>\r\nC%6Fntact: <sip:alias2@host2.example.com>\r\n\
        Contact: <sip:alias3@host3.example.com>\r\nl: 0\r\n\r\n";
    assert_eq!(feed(m.as_bytes()).statuses(), [501]);
}

/// 3.1.1.8 Extra Trailing Octets in a UDP Datagram: the REGISTER ends at its Content-Length;
/// the INVITE after it is discarded, not answered and not a call.
#[test]
fn dblreq() {
    let m = format!(
        "REGISTER sip:example.com SIP/2.0\r\nTo: sip:j.user@example.com\r\n\
         From: sip:j.user@example.com;tag=43251j3j324\r\nMax-Forwards: 8\r\n\
         I: dblreq.0ha0isndaksdj99sdfafnl3lk233412\r\nContact: sip:j.user@host.example.com\r\n\
         CSeq: 8 REGISTER\r\nVia: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\r\n\
         Content-Length: 0\r\n\r\n\
         INVITE sip:joe@example.com SIP/2.0\r\nt: sip:joe@example.com\r\n\
         From: sip:caller@example.net;tag=141334\r\nMax-Forwards: 8\r\n\
         Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\r\nCSeq: 8 INVITE\r\n\
         Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\r\n\
         Content-Type: application/sdp\r\nContent-Length: 150\r\n\r\n{}",
        sdp("192.0.2.15").replace("m=video", "m =video")
    );
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [405], "{:?}", out.sent);
    assert!(out.sent[0].contains("CSeq: 8 REGISTER"));
    assert_eq!(out.incoming, 0);
}

/// 3.1.1.10 Varied and Unknown Transport Types: 200, every Via copied back in order.
#[test]
fn transports() {
    let m = "OPTIONS sip:user@example.com SIP/2.0\r\nTo: sip:user@example.com\r\n\
        From: <sip:caller@example.com>;tag=323\r\nMax-Forwards: 70\r\n\
        Call-ID:  transports.kijh4akdnaqjkwendsasfdj\r\nAccept: application/sdp\r\n\
        CSeq: 60 OPTIONS\r\n\
        Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\r\n\
        Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\r\n\
        Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\r\n\
        Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\r\n\
        Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\r\nl: 0\r\n\r\n";
    let out = feed(m.as_bytes());
    assert_eq!(out.statuses(), [200], "{:?}", out.sent);
    let vias: Vec<&str> = out.sent[0]
        .split("\r\n")
        .filter(|l| l.starts_with("Via: "))
        .collect();
    assert_eq!(vias.len(), 5);
    assert!(vias[0].contains("t1.example.com") && vias[4].contains("t5.example.com"));
}

/// 3.1.1.11 Multipart MIME Message: a MESSAGE with a text part and a binary part (every byte
/// value, standing in for the RFC's signature bytes). The body is opaque to the parser; a UAS
/// that takes no MESSAGE answers 405.
#[test]
fn mpart01() {
    let mut body = b"--7a9cbec02ceef655\r\nContent-Type: text/plain\r\n\
        Content-Transfer-Encoding: binary\r\n\r\nHello\r\n--7a9cbec02ceef655\r\n\
        Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    body.extend((0..=255u8).chain((0..=255u8).rev()));
    body.extend_from_slice(b"\r\n--7a9cbec02ceef655--\r\n");
    let mut m = format!(
        "MESSAGE sip:kumiko@example.org SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport\r\n\
         Max-Forwards: 70\r\nRoute: <sip:127.0.0.1:5080>\r\n\
         Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=\r\n\
         Contact: <sip:fluffy@127.0.0.1:5070>\r\nTo: <sip:kumiko@example.org>\r\n\
         From: <sip:fluffy@example.com>;tag=2fb0dcc9\r\n\
         Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\r\nCSeq: 1 MESSAGE\r\n\
         Content-Transfer-Encoding: binary\r\n\
         Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\r\n\
         Date: Sat, 15 Oct 2005 04:44:56 GMT\r\nUser-Agent: Test\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(&body);
    let out = feed(&m);
    assert_eq!(out.statuses(), [405], "{:?}", out.sent);
}
