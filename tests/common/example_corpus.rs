//! The documents the example rules are held to (tests/languages.rs) and timed on
//! (benches/languages.rs): deterministic, and covering every branch of every example rule.

use serde_json::{Value, json};

/// A small deterministic generator (xorshift64*), so every run sees the same resources.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// `n` documents of the three types (each with `padding` bytes of unrelated tags, to reach
/// realistic document sizes), covering every branch of the example rules: nulls,
/// empty lists, ports around 22, every protocol spelling, both CIDR families, collection errors.
pub fn corpus(n: usize, padding: usize) -> Vec<(String, String, String)> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut out = Vec::new();
    for i in 0..n {
        let name: Value = if rng.below(20) == 0 {
            Value::Null
        } else {
            json!(format!("res-{i}"))
        };
        let id = format!("res-{i}");
        let mut doc = match i % 3 {
            0 => json!({
                "ResourceType": "AWS.S3.Bucket",
                "EncryptionRules": match rng.below(3) {
                    0 => Value::Null,
                    1 => json!([]),
                    _ => json!([{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]),
                },
            }),
            1 => {
                let permissions: Vec<Value> = (0..rng.below(4))
                    .map(|_| {
                        let protocol = *rng.pick(&["tcp", "6", "udp", "-1", "icmp"]);
                        let from = *rng.pick(&[0i64, 20, 22, 23, 443, -1]);
                        let to = from + *rng.pick(&[0i64, 1, 5, 100]);
                        let mut p = json!({
                            "IpProtocol": protocol,
                            "IpRanges": (0..rng.below(3)).map(|_| json!({"CidrIp": rng.pick(&["0.0.0.0/0", "10.0.0.0/8", "192.168.1.0/24"])})).collect::<Vec<_>>(),
                            "Ipv6Ranges": (0..rng.below(2)).map(|_| json!({"CidrIpv6": rng.pick(&["::/0", "2001:db8::/32"])})).collect::<Vec<_>>(),
                        });
                        if rng.below(6) != 0 {
                            p["FromPort"] = json!(from);
                            p["ToPort"] = json!(to);
                        }
                        p
                    })
                    .collect();
                json!({
                    "ResourceType": "AWS.EC2.SecurityGroup",
                    "IpPermissions": if rng.below(8) == 0 { Value::Null } else { json!(permissions) },
                })
            }
            _ => json!({
                "ResourceType": "AWS.IAM.User",
                "CredentialReport": match rng.below(5) {
                    0 => Value::Null,
                    _ => json!({
                        "PasswordEnabled": rng.below(2) == 0,
                        "MfaActive": rng.below(2) == 0,
                    }),
                },
            }),
        };
        doc["ResourceId"] = json!(id);
        doc["AccountId"] = json!("123456789012");
        doc["Name"] = name;
        if padding > 0 {
            doc["Tags"] = json!({"Owner": "x".repeat(padding)});
        }
        if rng.below(25) == 0 {
            let field = match i % 3 {
                0 => "EncryptionRules",
                1 => "IpPermissions",
                _ => "CredentialReport",
            };
            doc["CollectionErrors"] = json!({ field: "AccessDenied: not allowed" });
        }
        let ty = doc["ResourceType"].as_str().expect("type").to_owned();
        out.push((id, ty, doc.to_string()));
    }
    out
}
