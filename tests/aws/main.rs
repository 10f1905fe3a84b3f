//! Tests against a real AWS emulator (moto in server mode on 127.0.0.1), driven by the real
//! AWS SDK. One emulator serves the whole binary; every test works in an account of its own.

mod support;

mod cli;
mod ec2;
mod iam;
mod refresh;
mod report;
mod s3;
mod scan;
