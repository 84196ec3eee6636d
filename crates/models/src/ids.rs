//! Validated identifiers and job targets: once one of these exists, its value follows AWS IoT's rules.

/// Which characters an identifier may hold, as AWS IoT's model patterns say.
#[derive(Clone, Copy)]
enum Charset {
    /// `[a-zA-Z0-9_-]+`: job and job template ids.
    JobId,
    /// `[a-zA-Z0-9:_-]+`: thing, thing group and thing type names.
    RegistryName,
}

impl Charset {
    fn allows(self, c: char) -> bool {
        c.is_ascii_alphanumeric()
            || c == '_'
            || c == '-'
            || (matches!(self, Charset::RegistryName) && c == ':')
    }

    fn pattern(self) -> &'static str {
        match self {
            Charset::JobId => "[a-zA-Z0-9_-]+",
            Charset::RegistryName => "[a-zA-Z0-9:_-]+",
        }
    }
}

fn check_identifier(value: &str, max: usize, charset: Charset) -> Result<(), String> {
    let len = value.chars().count();
    if len == 0 || len > max {
        return Err(format!("must be 1 to {max} characters long, got {len}"));
    }
    if let Some(bad) = value.chars().find(|c| !charset.allows(*c)) {
        return Err(format!("must match {} (found {bad:?})", charset.pattern()));
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $max:expr, $charset:expr) => {
        checked_string!($(#[$doc])* $name, $max, |v| check_identifier(v, $max, $charset));
    };
}

identifier!(
    /// A job id: 1 to 64 of `[a-zA-Z0-9_-]`.
    JobId, 64, Charset::JobId
);
identifier!(
    /// A job template id: 1 to 64 of `[a-zA-Z0-9_-]`.
    JobTemplateId, 64, Charset::JobId
);
identifier!(
    /// A thing name: 1 to 128 of `[a-zA-Z0-9:_-]`.
    ThingName, 128, Charset::RegistryName
);
identifier!(
    /// A thing group name: 1 to 128 of `[a-zA-Z0-9:_-]`.
    ThingGroupName, 128, Charset::RegistryName
);

identifier!(
    /// A thing type name: 1 to 128 of `[a-zA-Z0-9:_-]`.
    ThingTypeName, 128, Charset::RegistryName
);
identifier!(
    /// A named shadow's name: 1 to 64 of `[a-zA-Z0-9:_-]`.
    ShadowName, 64, Charset::RegistryName
);

/// Where a resource lives: the partition-less region and account of an ARN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub region: String,
    pub account: String,
}

impl Location {
    pub fn job_arn(&self, id: &JobId) -> String {
        self.arn("job", id.as_str())
    }
    pub fn job_template_arn(&self, id: &JobTemplateId) -> String {
        self.arn("jobtemplate", id.as_str())
    }
    pub fn thing_arn(&self, name: &ThingName) -> String {
        self.arn("thing", name.as_str())
    }
    pub fn thing_group_arn(&self, name: &ThingGroupName) -> String {
        self.arn("thinggroup", name.as_str())
    }
    pub fn thing_type_arn(&self, name: &ThingTypeName) -> String {
        self.arn("thingtype", name.as_str())
    }
    fn arn(&self, kind: &str, name: &str) -> String {
        format!("arn:aws:iot:{}:{}:{kind}/{name}", self.region, self.account)
    }
}

/// A job target as a client gave it: a thing by name, or a thing or thing group by ARN.
/// A name is always a thing's, as in the original package; groups need their ARN, because a
/// thing and a group may share a name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Thing {
        name: ThingName,
        location: Option<Location>,
    },
    ThingGroup {
        name: ThingGroupName,
        location: Location,
    },
}

/// Longest target ARN AWS IoT accepts.
pub const MAX_TARGET_LEN: usize = 2048;

impl Target {
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.len() > MAX_TARGET_LEN {
            return Err(format!("must be at most {MAX_TARGET_LEN} characters long"));
        }
        let Some(rest) = value.strip_prefix("arn:") else {
            return ThingName::parse(value)
                .map(|name| Target::Thing {
                    name,
                    location: None,
                })
                .map_err(|e| {
                    format!("{value:?} is neither a thing name nor an ARN: a thing name {e}")
                });
        };
        let bad = || {
            format!(
                "{value:?} is not a thing or thing group ARN \
                 (arn:aws:iot:REGION:ACCOUNT:thing/NAME or arn:aws:iot:REGION:ACCOUNT:thinggroup/NAME)"
            )
        };
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts[..] else {
            return Err(bad());
        };
        if !partition.starts_with("aws")
            || service != "iot"
            || region.is_empty()
            || account.is_empty()
        {
            return Err(bad());
        }
        let location = Location {
            region: region.to_owned(),
            account: account.to_owned(),
        };
        match resource.split_once('/') {
            Some(("thing", name)) => ThingName::parse(name)
                .map(|name| Target::Thing {
                    name,
                    location: Some(location),
                })
                .map_err(|e| format!("{value:?}: the thing name {e}")),
            Some(("thinggroup", name)) => ThingGroupName::parse(name)
                .map(|name| Target::ThingGroup { name, location })
                .map_err(|e| format!("{value:?}: the thing group name {e}")),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_aws_patterns() {
        assert!(JobId::parse("job-1_A").is_ok());
        assert!(JobId::parse("").is_err());
        assert!(JobId::parse("a:b").is_err());
        assert!(JobId::parse("x".repeat(64)).is_ok());
        assert!(JobId::parse("x".repeat(65)).is_err());
        assert!(ThingName::parse("a:b").is_ok());
        assert!(ThingName::parse("a b").is_err());
        assert!(ThingName::parse("é").is_err());
    }

    #[test]
    fn targets_are_thing_names_or_iot_arns() {
        let here = Location {
            region: "us-east-1".into(),
            account: "000000000000".into(),
        };
        assert_eq!(
            Target::parse("lamp").unwrap(),
            Target::Thing {
                name: ThingName::parse("lamp").unwrap(),
                location: None
            }
        );
        assert_eq!(
            Target::parse("arn:aws:iot:us-east-1:000000000000:thinggroup/floor-1").unwrap(),
            Target::ThingGroup {
                name: ThingGroupName::parse("floor-1").unwrap(),
                location: here.clone()
            }
        );
        assert_eq!(
            Target::parse(&here.thing_arn(&ThingName::parse("lamp").unwrap())).unwrap(),
            Target::Thing {
                name: ThingName::parse("lamp").unwrap(),
                location: Some(here)
            }
        );
        for bad in [
            "arn:aws:s3:::bucket",
            "arn:aws:iot:r:a:job/x",
            "arn:aws:iot:r:a:thing/",
            "a b",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
