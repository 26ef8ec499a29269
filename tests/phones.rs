//! Real SIP phones (baresip, linphone-daemon, twinkle-console) calling `ivrd serve`.
