//! Deploy hand-off files, written on pass: CodePipeline's ECS actions (here) and Kubernetes /
//! EKS manifests, kustomize and Helm values (`k8s`). Every one pins the image by digest, so
//! the deploy gets exactly what was scanned, never whatever a tag points at later.

pub mod k8s;

use crate::model::ScannedImage;
use serde_json::json;

/// `imagedefinitions.json` for the ECS standard deploy action.
pub fn image_definitions(container: &str, img: &ScannedImage) -> String {
    let v = json!([{ "name": container, "imageUri": img.pinned_uri() }]);
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// `imageDetail.json` for the ECS blue/green (CodeDeploy) action.
pub fn image_detail(img: &ScannedImage) -> String {
    let v = json!({ "ImageURI": img.pinned_uri() });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_pin_the_digest() {
        let img = ScannedImage {
            registry: "123456789012".into(),
            region: "eu-west-1".into(),
            repository: "app/web".into(),
            digest: "sha256:aa".into(),
            platform: Some("linux/amd64".into()),
            requested: "app/web:v1".into(),
            index_digest: Some("sha256:ii".into()),
            registry_host: None,
        };
        let defs: serde_json::Value =
            serde_json::from_str(&image_definitions("web", &img)).unwrap();
        assert_eq!(defs[0]["name"], "web");
        assert_eq!(
            defs[0]["imageUri"],
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app/web@sha256:ii"
        );
        let det: serde_json::Value = serde_json::from_str(&image_detail(&img)).unwrap();
        assert_eq!(
            det["ImageURI"],
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app/web@sha256:ii"
        );
    }
}
