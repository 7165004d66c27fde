"""The Go types docker's CLI (28.x) decodes Engine API answers into, for templates.

Field order, Go names, JSON names and `omitempty` follow docker's API types
(github.com/docker/docker/api/types, v28), the OCI image-spec and the CLI's own
version/info structs; see gotypes.Schema for the notation.  A field missing here
only costs fidelity: docker's inspect then falls back to the raw JSON, as here.
"""

from __future__ import annotations

from .gotypes import Schema, decoder

_CONTAINER = {
    "container.InspectResponse": """
        ContainerJSONBase *container.ContainerJSONBase embed
        Mounts []container.MountPoint
        Config *container.Config
        NetworkSettings *container.NetworkSettings
        ImageManifestDescriptor *v1.Descriptor omitempty
    """,
    "container.ContainerJSONBase": """
        ID string json=Id
        Created string
        Path string
        Args []string
        State *container.State
        Image string
        ResolvConfPath string
        HostnamePath string
        HostsPath string
        LogPath string
        Name string
        RestartCount int
        Driver string
        Platform string
        MountLabel string
        ProcessLabel string
        AppArmorProfile string
        ExecIDs []string
        HostConfig *container.HostConfig
        GraphDriver storage.DriverData
        SizeRw *int64 omitempty
        SizeRootFs *int64 omitempty
    """,
    "container.State": """
        Status string
        Running bool
        Paused bool
        Restarting bool
        OOMKilled bool
        Dead bool
        Pid int
        ExitCode int
        Error string
        StartedAt string
        FinishedAt string
        Health *container.Health omitempty
    """,
    "container.Health": """
        Status string
        FailingStreak int
        Log []*container.HealthcheckResult
    """,
    "container.HealthcheckResult": """
        Start time
        End time
        ExitCode int
        Output string
    """,
    "container.MountPoint": """
        Type string omitempty
        Name string omitempty
        Source string
        Destination string
        Driver string omitempty
        Mode string
        RW bool
        Propagation string
    """,
    "container.Config": """
        Hostname string
        Domainname string
        User string
        AttachStdin bool
        AttachStdout bool
        AttachStderr bool
        ExposedPorts map[string]struct{} omitempty
        Tty bool
        OpenStdin bool
        StdinOnce bool
        Env []string
        Cmd []string
        Healthcheck *v1.HealthcheckConfig omitempty
        ArgsEscaped bool omitempty
        Image string
        Volumes map[string]struct{}
        WorkingDir string
        Entrypoint []string
        NetworkDisabled bool omitempty
        MacAddress string omitempty
        OnBuild []string
        Labels map[string]string
        StopSignal string omitempty
        StopTimeout *int omitempty
        Shell []string omitempty
    """,
    "v1.HealthcheckConfig": """
        Test []string omitempty
        Interval duration omitempty
        Timeout duration omitempty
        StartPeriod duration omitempty
        StartInterval duration omitempty
        Retries int omitempty
    """,
    "struct{}": "",
    "container.HostConfig": """
        Binds []string
        ContainerIDFile string
        LogConfig container.LogConfig
        NetworkMode string
        PortBindings map[string][]nat.PortBinding
        RestartPolicy container.RestartPolicy
        AutoRemove bool
        VolumeDriver string
        VolumesFrom []string
        ConsoleSize [2]uint
        Annotations map[string]string omitempty
        CapAdd []string
        CapDrop []string
        CgroupnsMode string
        DNS []string json=Dns
        DNSOptions []string json=DnsOptions
        DNSSearch []string json=DnsSearch
        ExtraHosts []string
        GroupAdd []string
        IpcMode string
        Cgroup string
        Links []string
        OomScoreAdj int
        PidMode string
        Privileged bool
        PublishAllPorts bool
        ReadonlyRootfs bool
        SecurityOpt []string
        StorageOpt map[string]string omitempty
        Tmpfs map[string]string omitempty
        UTSMode string
        UsernsMode string
        ShmSize int64
        Sysctls map[string]string omitempty
        Runtime string omitempty
        Isolation string
        Resources container.Resources embed
        Mounts []mount.Mount omitempty
        MaskedPaths []string
        ReadonlyPaths []string
        Init *bool omitempty
    """,
    "container.Resources": """
        CPUShares int64 json=CpuShares
        Memory int64
        NanoCPUs int64 json=NanoCpus
        CgroupParent string
        BlkioWeight uint16
        BlkioWeightDevice []*blkiodev.WeightDevice
        BlkioDeviceReadBps []*blkiodev.ThrottleDevice
        BlkioDeviceWriteBps []*blkiodev.ThrottleDevice
        BlkioDeviceReadIOps []*blkiodev.ThrottleDevice
        BlkioDeviceWriteIOps []*blkiodev.ThrottleDevice
        CPUPeriod int64 json=CpuPeriod
        CPUQuota int64 json=CpuQuota
        CPURealtimePeriod int64 json=CpuRealtimePeriod
        CPURealtimeRuntime int64 json=CpuRealtimeRuntime
        CpusetCpus string
        CpusetMems string
        Devices []container.DeviceMapping
        DeviceCgroupRules []string
        DeviceRequests []container.DeviceRequest
        KernelMemory int64 omitempty
        KernelMemoryTCP int64 omitempty
        MemoryReservation int64
        MemorySwap int64
        MemorySwappiness *int64
        OomKillDisable *bool
        PidsLimit *int64
        Ulimits []*units.Ulimit
        CPUCount int64 json=CpuCount
        CPUPercent int64 json=CpuPercent
        IOMaximumIOps uint64
        IOMaximumBandwidth uint64
    """,
    "container.LogConfig": """
        Type string
        Config map[string]string
    """,
    "container.RestartPolicy": """
        Name string
        MaximumRetryCount int
    """,
    "container.DeviceMapping": """
        PathOnHost string
        PathInContainer string
        CgroupPermissions string
    """,
    "container.DeviceRequest": """
        Driver string
        Count int
        DeviceIDs []string
        Capabilities [][]string
        Options map[string]string
    """,
    "blkiodev.WeightDevice": """
        Path string
        Weight uint16
    """,
    "blkiodev.ThrottleDevice": """
        Path string
        Rate uint64
    """,
    "units.Ulimit": """
        Name string
        Hard int64
        Soft int64
    """,
    "nat.PortBinding": """
        HostIP string json=HostIp
        HostPort string
    """,
    "mount.Mount": """
        Type string omitempty
        Source string omitempty
        Target string omitempty
        ReadOnly bool omitempty
        Consistency string omitempty
        BindOptions *mount.BindOptions omitempty
        VolumeOptions *mount.VolumeOptions omitempty
        ImageOptions *mount.ImageOptions omitempty
        TmpfsOptions *mount.TmpfsOptions omitempty
        ClusterOptions *any omitempty
    """,
    "mount.BindOptions": """
        Propagation string omitempty
        NonRecursive bool omitempty
        CreateMountpoint bool omitempty
        ReadOnlyNonRecursive bool omitempty
        ReadOnlyForceRecursive bool omitempty
    """,
    "mount.VolumeOptions": """
        NoCopy bool omitempty
        Labels map[string]string omitempty
        Subpath string omitempty
        DriverConfig *mount.Driver omitempty
    """,
    "mount.Driver": """
        Name string omitempty
        Options map[string]string omitempty
    """,
    "mount.ImageOptions": """
        Subpath string omitempty
    """,
    "mount.TmpfsOptions": """
        SizeBytes int64 omitempty
        Mode uint32 omitempty
        Options [][]string omitempty
    """,
    "container.NetworkSettings": """
        NetworkSettingsBase container.NetworkSettingsBase embed
        DefaultNetworkSettings container.DefaultNetworkSettings embed
        Networks map[string]*network.EndpointSettings
    """,
    "container.NetworkSettingsBase": """
        Bridge string
        SandboxID string
        SandboxKey string
        Ports map[string][]nat.PortBinding
        HairpinMode bool
        LinkLocalIPv6Address string
        LinkLocalIPv6PrefixLen int
        SecondaryIPAddresses []network.Address
        SecondaryIPv6Addresses []network.Address
    """,
    "container.DefaultNetworkSettings": """
        EndpointID string
        Gateway string
        GlobalIPv6Address string
        GlobalIPv6PrefixLen int
        IPAddress string
        IPPrefixLen int
        IPv6Gateway string
        MacAddress string
    """,
    "network.EndpointSettings": """
        IPAMConfig *network.EndpointIPAMConfig
        Links []string
        Aliases []string
        MacAddress string
        DriverOpts map[string]string
        GwPriority int
        NetworkID string
        EndpointID string
        Gateway string
        IPAddress string
        IPPrefixLen int
        IPv6Gateway string
        GlobalIPv6Address string
        GlobalIPv6PrefixLen int
        DNSNames []string
    """,
    "network.EndpointIPAMConfig": """
        IPv4Address string omitempty
        IPv6Address string omitempty
        LinkLocalIPs []string omitempty
    """,
    "network.Address": """
        Addr string
        PrefixLen int
    """,
    "storage.DriverData": """
        Data map[string]string
        Name string
    """,
    "v1.Descriptor": """
        MediaType string json=mediaType
        Digest string json=digest
        Size int64 json=size
        URLs []string json=urls omitempty
        Annotations map[string]string json=annotations omitempty
        Data string json=data omitempty
        Platform *v1.Platform json=platform omitempty
        ArtifactType string json=artifactType omitempty
    """,
    "v1.Platform": """
        Architecture string json=architecture
        OS string json=os
        OSVersion string json=os.version omitempty
        OSFeatures []string json=os.features omitempty
        Variant string json=variant omitempty
    """,
}

_IMAGE = {
    "image.InspectResponse": """
        ID string json=Id
        RepoTags []string
        RepoDigests []string
        Parent string
        Comment string
        Created string omitempty
        Container string omitempty
        ContainerConfig *container.Config omitempty
        DockerVersion string
        Author string
        Config *v1.DockerOCIImageConfig
        Architecture string
        Variant string omitempty
        Os string
        OsVersion string omitempty
        Size int64
        VirtualSize int64 omitempty
        GraphDriver storage.DriverData
        RootFS image.RootFS
        Metadata image.Metadata
        Descriptor *v1.Descriptor omitempty
        Manifests []any omitempty
    """,
    "v1.DockerOCIImageConfig": """
        ImageConfig v1.ImageConfig embed
        DockerOCIImageConfigExt v1.DockerOCIImageConfigExt embed
    """,
    "v1.ImageConfig": """
        User string omitempty
        ExposedPorts map[string]struct{} omitempty
        Env []string omitempty
        Entrypoint []string omitempty
        Cmd []string omitempty
        Volumes map[string]struct{} omitempty
        WorkingDir string omitempty
        Labels map[string]string omitempty
        StopSignal string omitempty
        ArgsEscaped bool omitempty
    """,
    "v1.DockerOCIImageConfigExt": """
        Healthcheck *v1.HealthcheckConfig omitempty
        OnBuild []string omitempty
        Shell []string omitempty
    """,
    "image.RootFS": """
        Type string omitempty
        Layers []string omitempty
    """,
    "image.Metadata": """
        LastTagTime time omitempty
    """,
}

_SYSTEM = {
    "system.versionInfo": """
        Client system.clientVersion
        Server *types.Version
    """,
    "system.clientVersion": """
        Platform *system.platformInfo omitempty
        Version string omitempty
        APIVersion string json=ApiVersion omitempty
        DefaultAPIVersion string omitempty
        GitCommit string omitempty
        GoVersion string omitempty
        Os string omitempty
        Arch string omitempty
        BuildTime string omitempty
        Context string
    """,
    "system.platformInfo": """
        Name string omitempty
    """,
    "types.Version": """
        Platform struct{Name} omitempty
        Components []types.ComponentVersion omitempty
        Version string
        APIVersion string json=ApiVersion
        MinAPIVersion string omitempty
        GitCommit string
        GoVersion string
        Os string
        Arch string
        KernelVersion string omitempty
        Experimental bool omitempty
        BuildTime string omitempty
    """,
    "struct{Name}": """
        Name string
    """,
    "types.ComponentVersion": """
        Name string
        Version string
        Details map[string]string omitempty
    """,
    "system.dockerInfo": """
        Info *system.Info embed
        ServerErrors []string omitempty
        UserName string json=-
        ClientInfo *system.clientInfo omitempty
        ClientErrors []string omitempty
    """,
    "system.clientInfo": """
        Debug bool
        clientVersion system.clientVersion embed
        Plugins []any
        Warnings []string
    """,
    "system.Info": """
        ID string
        Containers int
        ContainersRunning int
        ContainersPaused int
        ContainersStopped int
        Images int
        Driver string
        DriverStatus [][2]string
        SystemStatus [][2]string omitempty
        Plugins system.PluginsInfo
        MemoryLimit bool
        SwapLimit bool
        KernelMemory bool omitempty
        KernelMemoryTCP bool omitempty
        CPUCfsPeriod bool json=CpuCfsPeriod
        CPUCfsQuota bool json=CpuCfsQuota
        CPUShares bool
        CPUSet bool
        PidsLimit bool
        IPv4Forwarding bool
        Debug bool
        NFd int
        OomKillDisable bool
        NGoroutines int
        SystemTime string
        LoggingDriver string
        CgroupDriver string
        CgroupVersion string omitempty
        NEventsListener int
        KernelVersion string
        OperatingSystem string
        OSVersion string
        OSType string
        Architecture string
        IndexServerAddress string
        RegistryConfig *registry.ServiceConfig
        NCPU int
        MemTotal int64
        GenericResources []any
        DockerRootDir string
        HTTPProxy string json=HttpProxy
        HTTPSProxy string json=HttpsProxy
        NoProxy string
        Name string
        Labels []string
        ExperimentalBuild bool
        ServerVersion string
        Runtimes map[string]system.RuntimeWithStatus
        DefaultRuntime string
        Swarm swarm.Info
        LiveRestoreEnabled bool
        Isolation string
        InitBinary string
        ContainerdCommit system.Commit
        RuncCommit system.Commit
        InitCommit system.Commit
        SecurityOptions []string
        ProductLicense string omitempty
        DefaultAddressPools []system.NetworkAddressPool omitempty
        FirewallBackend *system.FirewallInfo omitempty
        CDISpecDirs []string
        DiscoveredDevices []system.DeviceInfo omitempty
        Containerd *system.ContainerdInfo omitempty
        Warnings []string
    """,
    "system.PluginsInfo": """
        Volume []string
        Network []string
        Authorization []string
        Log []string
    """,
    "registry.ServiceConfig!map": """
        AllowNondistributableArtifactsCIDRs []string omitempty
        AllowNondistributableArtifactsHostnames []string omitempty
        InsecureRegistryCIDRs []string
        IndexConfigs map[string]*registry.IndexInfo
        Mirrors []string
        ExtraFields map[string]any json=-
    """,
    "registry.IndexInfo": """
        Name string
        Mirrors []string
        Secure bool
        Official bool
    """,
    "system.RuntimeWithStatus": """
        Runtime system.Runtime embed
        Status map[string]string json=status omitempty
    """,
    "system.Runtime": """
        Path string json=path omitempty
        Args []string json=runtimeArgs omitempty
        Type string json=runtimeType omitempty
        Options map[string]any json=options omitempty
    """,
    "swarm.Info": """
        NodeID string
        NodeAddr string
        LocalNodeState string
        ControlAvailable bool
        Error string
        RemoteManagers []swarm.Peer
        Nodes int omitempty
        Managers int omitempty
        Cluster *swarm.ClusterInfo omitempty
        Warnings []string omitempty
    """,
    "swarm.ClusterInfo": """
        ID string
        Meta swarm.Meta embed
        Spec any
        TLSInfo any
        RootRotationInProgress bool
        DefaultAddrPool []string
        SubnetSize uint32
        DataPathPort uint32
    """,
    "swarm.Meta": """
        Version swarm.Version omitempty
        CreatedAt time omitempty
        UpdatedAt time omitempty
    """,
    "swarm.Version": """
        Index uint64
    """,
    "swarm.Peer": """
        NodeID string
        Addr string
    """,
    "system.Commit": """
        ID string
        Expected string omitempty
    """,
    "system.NetworkAddressPool": """
        Base string
        Size int
    """,
    "system.FirewallInfo": """
        Driver string
        Info [][2]string omitempty
    """,
    "system.DeviceInfo": """
        Source string
        ID string
    """,
    "system.ContainerdInfo": """
        Address string omitempty
        Namespaces system.ContainerdNamespaces
    """,
    "system.ContainerdNamespaces": """
        Containers string
        Plugins string
    """,
}


def _schema() -> Schema:
    return Schema({**_CONTAINER, **_IMAGE, **_SYSTEM})


decode = decoder(_schema)
"""decode(go_type, raw_json_value): the typed view, e.g. decode("container.InspectResponse", doc)."""

CONTAINER = "container.InspectResponse"
IMAGE = "image.InspectResponse"
VERSION = "system.versionInfo"
INFO = "system.dockerInfo"
