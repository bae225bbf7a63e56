"""Field partners: partner companies and their technicians, work orders, appointments, the partner
portal's actions, scorecards and partners' feedback."""
