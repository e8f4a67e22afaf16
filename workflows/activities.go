package workflows

import "github.com/kmemfix/kmemfix/activities"

// a references the activities by method; workflows never call it directly.
var a *activities.Activities
