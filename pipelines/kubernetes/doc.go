// Package kubernetes is the pipeline runner `kubernetes` (SPEC §7): each
// Run (one task: a shard of a Tusk job) becomes one batch/v1 Job in the
// configured namespace, whose pods run the pipeline's image with the tusk
// binary of the Tusk image copied in by an init container (`tusk worker
// --install`) into a shared emptyDir. Each pod runs `tusk worker --gateway
// URL --task ID`: it takes its datums one at a time from the gateway
// (pipelines.TaskBoard, served by the admin API), stages them and uploads
// outputs through the gateway's S3 API, and reports every try back. The
// pipeline's key reaches the pod only through a Secret (secretKeyRef),
// owned by the Job so that it goes with it.
//
// Status comes from shared informers on Jobs and Pods of the namespace
// (label app.kubernetes.io/managed-by=tusk), never from polling: a pod that
// fails or is evicted has the datums it claimed reported as failed tries
// with the pod's reason (the service retries them within datum_tries); a
// Job that ends has its unreported datums failed with the Job's reason.
// Finished Jobs are removed by Kubernetes (ttlSecondsAfterFinished). A Run
// cancelled (the pipeline was deleted, the job stopped) deletes its Job
// (propagation Background: pods and Secret go too), except after Detach
// (the gateway is stopping): Jobs then keep running, and the next gateway's
// runner finds them by label at Start and re-attaches each to the Run of
// the same Tusk job and pipeline version, whose datums its pods then claim
// (a datum claimed before the restart runs again). A Job nobody re-attaches
// within AdoptGrace is deleted.
package kubernetes
