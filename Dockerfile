# Tusk's image for users with Docker: a static binary (CGO_ENABLED=0) on an
# empty base, run as a non-root user. `make image` builds the same image
# without a Docker engine (cmd/tusk-image) as bin/tusk-image.tar.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tusk ./cmd/tusk

FROM scratch
COPY --from=build /out/tusk /tusk
USER 65532:65532
EXPOSE 9000
ENTRYPOINT ["/tusk"]
CMD ["serve", "--addr=0.0.0.0:9000", "--data-dir=/data"]
