package objects

// coreKinds are the built-in kinds of the core API group (apiVersion v1).
func coreKinds() []KindInfo {
	return []KindInfo{
		{APIVersion: "v1", Kind: "ConfigMap", Namespaced: true, New: func() Object { return &ConfigMap{} }},
		{APIVersion: "v1", Kind: "Endpoints", Namespaced: true, New: func() Object { return &Endpoints{} }},
		{APIVersion: "v1", Kind: "Event", Namespaced: true, New: func() Object { return &Event{} }},
		{APIVersion: "v1", Kind: "LimitRange", Namespaced: true, New: func() Object { return &LimitRange{} }},
		{APIVersion: "v1", Kind: "Namespace", Namespaced: false, New: func() Object { return &Namespace{} }},
		{APIVersion: "v1", Kind: "Node", Namespaced: false, New: func() Object { return &Node{} }},
		{APIVersion: "v1", Kind: "PersistentVolume", Namespaced: false, New: func() Object { return &PersistentVolume{} }},
		{APIVersion: "v1", Kind: "PersistentVolumeClaim", Namespaced: true, New: func() Object { return &PersistentVolumeClaim{} }},
		{APIVersion: "v1", Kind: "Pod", Namespaced: true, New: func() Object { return &Pod{} }},
		{APIVersion: "v1", Kind: "ReplicationController", Namespaced: true, New: func() Object { return &ReplicationController{} }},
		{APIVersion: "v1", Kind: "ResourceQuota", Namespaced: true, New: func() Object { return &ResourceQuota{} }},
		{APIVersion: "v1", Kind: "Secret", Namespaced: true, New: func() Object { return &Secret{} }},
		{APIVersion: "v1", Kind: "Service", Namespaced: true, New: func() Object { return &Service{} }},
		{APIVersion: "v1", Kind: "ServiceAccount", Namespaced: true, New: func() Object { return &ServiceAccount{} }},
	}
}
